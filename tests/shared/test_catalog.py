from __future__ import annotations

from datetime import date
from importlib.resources import files

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.catalog import (
    CATALOG_FORMAT,
    Catalog,
    Copies,
    Department,
    Fee,
    Item,
    ItemCodes,
    ItemType,
    Material,
    MaterialForm,
    MaterialRequirement,
    MaterialSource,
    Region,
    ServiceObject,
    SpecialProcedure,
    TimeLimit,
    decode_catalog,
    encode_catalog,
)
from shared.delegation import Delegation, DelegationMode, Tier
from shared.errors import InvalidError, NotFoundError, ValidationError
from shared.terms import CaseTerms, LimitUnit, ProcedureKind, ProjectType

WD = LimitUnit.WORKING_DAYS
CD = LimitUnit.CALENDAR_DAYS
DAY = date(2026, 3, 2)

DEPARTMENTS = (
    Department(code="d1", name="示范县甲局", tier=Tier.COUNTY, uscc="11999999MB0000001X"),
    Department(code="d2", name="示范县乙局", tier=Tier.COUNTY),
    Department(code="d3", name="示范县丙局", tier=Tier.COUNTY),
    Department(code="t1", name="示范镇人民政府", tier=Tier.TOWNSHIP),
)


def _limit(days: int, unit: LimitUnit = WD) -> TimeLimit:
    return TimeLimit(days=days, unit=unit)


def _material(code: str = "M01", req: MaterialRequirement = MaterialRequirement.REQUIRED):
    return Material(code=code, name="申请书", form=MaterialForm.ORIGINAL, requirement=req)


def _item(**changes) -> Item:
    base = Item(
        code="T1",
        name="测试许可",
        item_type=ItemType.LICENCE,
        codes=ItemCodes(basic="0199001000"),
        lead_department="d1",
        home_tier=Tier.COUNTY,
        project_type=ProjectType.PROMISED,
        statutory=_limit(20),
        promised=_limit(5),
        extension_days=10,
        materials=(_material(),),
    )
    return msgspec.structs.replace(base, **changes)


def _catalog(*items: Item, departments=DEPARTMENTS) -> Catalog:
    return Catalog(
        county=Region(code="999999", name="示范县"), departments=departments, items=items
    )


def _joint(**changes) -> Item:
    fields = {
        "project_type": ProjectType.JOINT,
        "statutory": _limit(45),
        "promised": _limit(20),
        "extension_days": 15,
        "parallel_departments": ("d2",),
    }
    return _item(**{**fields, **changes})


def _only(problems: list[str], *fragments: str) -> str:
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems[0]
    return problems[0]


@pytest.fixture(scope="module")
def demo() -> Catalog:
    data = (files("tongban") / "demo_catalog.json").read_bytes()
    return decode_catalog(data)


# --- the base item and the demo catalog are sound ---------------------------------------


def test_validate_base_item_has_no_problems():
    assert _item().validate() == []
    assert _catalog(_item()).validate() == []


def test_demo_catalog_decodes_and_passes_check(demo):
    demo.check()
    assert demo.format == CATALOG_FORMAT
    assert demo.county == Region(code="999999", name="示范县")
    assert len(demo.items) == 21
    assert demo.department("sfz").tier is Tier.TOWNSHIP


def test_demo_catalog_covers_required_shapes(demo):
    joint = demo.item("Z02")
    assert joint.project_type is ProjectType.JOINT
    assert joint.lead_department == "sfz"
    assert joint.parallel_departments == ("zrzy", "nync")
    assert any(
        p.kind.art45 and not p.counts_toward_limit for p in demo.item("X08").special_procedures
    )
    assert demo.item("X07").project_type is ProjectType.IMMEDIATE
    modes = {(d.tier, d.mode) for i in demo.items for d in i.delegations}
    assert (Tier.COMMUNITY, DelegationMode.PROXY) in modes
    assert (Tier.COMMUNITY, DelegationMode.WINDOW_FORWARD) in modes
    assert (Tier.TOWNSHIP, DelegationMode.DIRECT) in modes
    assert (Tier.TOWNSHIP, DelegationMode.ENTRUST) in modes
    assert (Tier.TOWNSHIP, DelegationMode.WINDOW_FORWARD) in modes


def test_demo_catalog_encodes_back_to_equal_catalog(demo):
    assert decode_catalog(encode_catalog(demo)) == demo


# --- one test per validation rule -------------------------------------------------------


def test_validate_promised_over_statutory():
    _only(_item(promised=_limit(25)).validate(), "T1", "promised", "25个工作日", "20个工作日")


def test_validate_promised_over_statutory_ignored_across_units():
    problems = _item(item_type=ItemType.CONFIRMATION, promised=_limit(25, CD)).validate()
    _only(problems, "T1", "单位不一致")


def test_validate_immediate_requires_zero_promised():
    item = _item(project_type=ProjectType.IMMEDIATE, promised=_limit(2))
    _only(item.validate(), "T1", "即办件", "promised")
    assert _item(project_type=ProjectType.IMMEDIATE, promised=_limit(0)).validate() == []
    assert _item(project_type=ProjectType.IMMEDIATE, promised=None).validate() != []


def test_validate_zero_promised_only_for_immediate():
    _only(_item(promised=_limit(0)).validate(), "T1", "promised", "只有即办件")


def test_validate_promised_item_requires_promised_limit():
    _only(_item(promised=None).validate(), "T1", "承诺件", "promised")
    assert _item(project_type=ProjectType.OTHER, promised=None).validate() == []


def test_validate_negative_limits():
    item = _item(item_type=ItemType.PUBLIC_SERVICE, statutory=_limit(-1), promised=None)
    _only(msgspec.structs.replace(item, project_type=ProjectType.OTHER).validate(), "statutory")
    _only(_item(extension_days=-1).validate(), "T1", "extension_days", "负数")
    _only(_item(warning_days=-2).validate(), "T1", "warning_days")
    _only(_item(issuance_days=-1).validate(), "T1", "issuance_days")


def test_validate_public_service_may_lack_statutory_limit():
    item = _item(item_type=ItemType.PUBLIC_SERVICE, statutory=None)
    assert item.validate() == []


def test_validate_licence_requires_statutory_limit():
    _only(_item(statutory=None).validate(), "T1", "行政许可", "statutory")


def test_validate_licence_statutory_limit_in_working_days():
    item = _item(statutory=_limit(20, CD), promised=_limit(5, CD))
    _only(item.validate(), "T1", "第八十二条")


def test_validate_requires_at_least_one_code():
    _only(_item(codes=ItemCodes()).validate(), "T1", "codes")
    assert _item(codes=ItemCodes(local="SF-001")).validate() == []


def test_validate_codes_at_most_50_characters():
    _only(_item(codes=ItemCodes(implementation="X" * 51)).validate(), "codes.implementation", "T1")
    assert _item(codes=ItemCodes(implementation="X" * 50)).validate() == []
    _only(_item(code="C" * 51).validate(), "CCCC", "code")


def test_catalog_validate_item_codes_unique():
    problems = _catalog(_item(), _item(name="另一个事项")).validate()
    _only(problems, "items.code", "T1", "重复")


def test_validate_material_codes_unique():
    item = _item(materials=(_material("M01"), _material("M01")))
    _only(item.validate(), "T1", "M01", "重复")


def test_validate_deferrable_materials_need_a_required_one():
    item = _item(materials=(_material("M01", MaterialRequirement.DEFERRABLE),))
    _only(item.validate(), "T1", "容缺")
    both = (_material("M01"), _material("M02", MaterialRequirement.DEFERRABLE))
    assert _item(materials=both).validate() == []


def test_validate_joint_item_requires_parallel_department():
    _only(_joint(parallel_departments=()).validate(), "T1", "联办件", "parallel_departments")
    assert _joint().validate() == []


def test_validate_item_requires_lead_department():
    _only(_joint(lead_department="").validate(), "T1", "lead_department")


def test_validate_parallel_department_not_lead():
    item = _joint(parallel_departments=("d1", "d2"))
    _only(item.validate(), "T1", "不能包含牵头部门")


def test_validate_parallel_departments_not_repeated():
    _only(_joint(parallel_departments=("d2", "d2")).validate(), "T1", "d2", "重复")


def test_validate_parallel_departments_only_on_joint_items():
    _only(_item(parallel_departments=("d2",)).validate(), "T1", "不是联办件")


def test_catalog_validate_departments_exist():
    problems = _catalog(_joint(lead_department="nope", parallel_departments=("d2", "gone")))
    found = problems.validate()
    assert len(found) == 2, found
    assert "nope" in found[0] and "T1" in found[0]
    assert "gone" in found[1] and "T1" in found[1]


def test_catalog_validate_lead_department_tier_matches_home_tier():
    _only(_catalog(_item(lead_department="t1")).validate(), "T1", "t1", "home_tier")


@pytest.mark.parametrize(
    "mode", [DelegationMode.DIRECT, DelegationMode.ENTRUST, DelegationMode.REVIEW_POWER]
)
def test_validate_licence_never_decided_by_community(mode):
    item = _item(delegations=(Delegation(mode=mode, tier=Tier.COMMUNITY),))
    _only(item.validate(), "T1", "第二十四条", mode.label)


@pytest.mark.parametrize("mode", [DelegationMode.PROXY, DelegationMode.WINDOW_FORWARD])
def test_validate_licence_may_be_received_by_community(mode):
    assert _item(delegations=(Delegation(mode=mode, tier=Tier.COMMUNITY),)).validate() == []


def test_validate_non_licence_may_be_decided_by_community():
    item = _item(
        item_type=ItemType.PUBLIC_SERVICE,
        delegations=(Delegation(mode=DelegationMode.DIRECT, tier=Tier.COMMUNITY),),
    )
    assert item.validate() == []


def test_validate_licence_home_tier_not_community():
    _only(_item(home_tier=Tier.COMMUNITY).validate(), "T1", "home_tier")


def test_validate_delegation_to_home_tier_is_pointless():
    item = _item(delegations=(Delegation(mode=DelegationMode.DIRECT, tier=Tier.COUNTY),))
    _only(item.validate(), "T1", "delegations", "没有意义")


def test_validate_delegation_only_downward():
    item = _item(
        home_tier=Tier.TOWNSHIP,
        delegations=(Delegation(mode=DelegationMode.WINDOW_FORWARD, tier=Tier.COUNTY),),
    )
    _only(item.validate(), "T1", "delegations", "只能下放到低于")


def test_validate_ambiguous_delegations():
    twice = (
        Delegation(mode=DelegationMode.WINDOW_FORWARD, tier=Tier.TOWNSHIP),
        Delegation(mode=DelegationMode.ENTRUST, tier=Tier.TOWNSHIP),
    )
    _only(_item(delegations=twice).validate(), "T1", "第 2 项", "无法判断")


def test_validate_delegation_node_ids_not_repeated():
    d = Delegation(mode=DelegationMode.DIRECT, tier=Tier.TOWNSHIP, node_ids=("a", "a"))
    _only(_item(delegations=(d,)).validate(), "T1", "node_ids", "重复")


def test_validate_art45_procedure_does_not_count_toward_limit():
    p = SpecialProcedure(
        name="专家论证", kind=ProcedureKind.EXPERT_REVIEW, counts_toward_limit=True
    )
    _only(_item(special_procedures=(p,)).validate(), "T1", "专家论证", "第四十五条")
    local = msgspec.structs.replace(p, kind=ProcedureKind.SITE_SURVEY)
    assert _item(special_procedures=(local,)).validate() == []


def test_validate_charged_fee_needs_basis():
    _only(_item(fee=Fee(charged=True)).validate(), "T1", "fee.basis")


def test_catalog_validate_region_and_departments():
    bad = (
        Department(code="d1", name="甲", tier=Tier.COUNTY, uscc="11999999MB000000IX"),
        Department(code="d1", name="乙", tier=Tier.COUNTY, uscc="123"),
    )
    catalog = msgspec.structs.replace(_catalog(departments=bad), county=Region(code="99", name=""))
    problems = catalog.validate()
    assert len(problems) == 5, problems
    assert "county.code" in problems[0]
    assert "county.name" in problems[1]
    assert "d1" in problems[2] and "重复" in problems[2]
    assert all("uscc" in p for p in problems[3:])


def test_catalog_check_raises_every_problem():
    catalog = _catalog(_item(promised=_limit(30)), _item(code="T2", codes=ItemCodes()))
    with pytest.raises(ValidationError) as caught:
        catalog.check()
    assert len(caught.value.problems) == 2
    assert "T1" in caught.value.problems[0]
    assert "T2" in caught.value.problems[1]
    assert caught.value.code == "validation_failed"


# --- case terms -------------------------------------------------------------------------


def test_case_terms_promised_item(demo):
    assert demo.item("X02").case_terms() == CaseTerms(
        project_type=ProjectType.PROMISED,
        promised_days=5,
        statutory_days=20,
        unit=WD,
        extension_days=10,
        issuance_days=10,
        warning_days=1,
    )


def test_case_terms_immediate_item(demo):
    terms = demo.item("X07").case_terms()
    assert (terms.project_type, terms.promised_days, terms.statutory_days) == (
        ProjectType.IMMEDIATE,
        0,
        0,
    )
    assert terms.issuance_days == 0
    assert terms.extension_days == 0


def test_case_terms_public_service_without_statutory_limit(demo):
    terms = demo.item("X08").case_terms()
    assert terms.statutory_days is None
    assert terms.promised_days == 10
    assert terms.project_type is ProjectType.REPORT_UP
    assert terms.issuance_days == 10


def test_case_terms_calendar_day_item(demo):
    terms = demo.item("X15").case_terms()
    assert (terms.unit, terms.statutory_days, terms.promised_days) == (CD, 15, 10)


def test_case_terms_joint_item_capped_at_45_and_15():
    terms = _joint(statutory=_limit(60), extension_days=20).case_terms()
    assert (terms.statutory_days, terms.extension_days) == (45, 15)


def test_case_terms_joint_item_keeps_smaller_limits(demo):
    terms = _joint(statutory=_limit(30), extension_days=5).case_terms()
    assert (terms.statutory_days, terms.extension_days) == (30, 5)
    assert demo.item("Z02").case_terms().statutory_days == 45


def test_case_terms_joint_licence_without_statutory_gets_cap():
    assert _joint(statutory=None).case_terms().statutory_days == 45


def test_case_terms_warning_days_from_item():
    assert _item(warning_days=3).case_terms().warning_days == 3


def test_case_terms_mixed_units_raise():
    item = _item(item_type=ItemType.CONFIRMATION, promised=_limit(5, CD))
    with pytest.raises(InvalidError) as caught:
        item.case_terms()
    assert caught.value.code == "catalog_mixed_units"


# --- delegation queries -----------------------------------------------------------------


def test_delegation_home_tier_decides(demo):
    item = demo.item("X02")
    assert item.handling_tier_for(Tier.COUNTY, "county", DAY) is Tier.COUNTY
    assert item.delegation_at(Tier.COUNTY, "county", DAY) is None


def test_delegation_window_forward_goes_to_home_tier(demo):
    item = demo.item("X02")
    assert item.can_accept_at(Tier.TOWNSHIP, "zhen-any", DAY)
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-any", DAY) is Tier.COUNTY
    d = item.delegation_at(Tier.TOWNSHIP, "zhen-any", DAY)
    assert d is not None and d.mode is DelegationMode.WINDOW_FORWARD
    assert not item.can_accept_at(Tier.COMMUNITY, "she-dongcun", DAY)


def test_delegation_node_specific_entrust_beats_tier_wide(demo):
    item = demo.item("X01")
    entrusted = item.delegation_at(Tier.TOWNSHIP, "zhen-shifan", DAY)
    assert entrusted is not None and entrusted.mode is DelegationMode.ENTRUST
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-shifan", DAY) is Tier.TOWNSHIP
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-other", DAY) is Tier.COUNTY


def test_delegation_not_in_force_before_effective_date(demo):
    item = demo.item("X01")
    before = item.delegation_at(Tier.TOWNSHIP, "zhen-shifan", date(2025, 6, 30))
    assert before is not None and before.mode is DelegationMode.WINDOW_FORWARD
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-shifan", date(2025, 6, 30)) is Tier.COUNTY


def test_delegation_node_list_limits_acceptance(demo):
    item = demo.item("X06")
    assert item.can_accept_at(Tier.TOWNSHIP, "zhen-shifan", DAY)
    assert not item.can_accept_at(Tier.TOWNSHIP, "zhen-other", DAY)


def test_delegation_community_proxy_forwards_to_deciding_township(demo):
    item = demo.item("X09")
    assert item.handling_tier_for(Tier.COMMUNITY, "she-dongcun", date(2025, 12, 31)) is Tier.COUNTY
    assert item.handling_tier_for(Tier.COMMUNITY, "she-dongcun", date(2026, 1, 1)) is Tier.TOWNSHIP
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-shifan", date(2026, 1, 1)) is Tier.TOWNSHIP
    d = item.delegation_at(Tier.TOWNSHIP, "zhen-shifan", date(2026, 1, 1))
    assert d is not None and d.mode is DelegationMode.REVIEW_POWER


def test_delegation_community_window_for_directly_delegated_item(demo):
    item = demo.item("X12")
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-shifan", DAY) is Tier.TOWNSHIP
    assert item.handling_tier_for(Tier.COMMUNITY, "she-any", DAY) is Tier.TOWNSHIP
    assert demo.item("X15").handling_tier_for(Tier.COMMUNITY, "she-any", DAY) is Tier.COUNTY
    assert demo.item("X17").handling_tier_for(Tier.COMMUNITY, "she-dongcun", DAY) is Tier.TOWNSHIP
    assert demo.item("X17").handling_tier_for(Tier.COMMUNITY, "she-xicun", DAY) is None


def test_delegation_township_item_not_accepted_above_home_tier(demo):
    item = demo.item("Z01")
    assert item.handling_tier_for(Tier.COUNTY, "county", DAY) is None
    assert item.handling_tier_for(Tier.TOWNSHIP, "zhen-shifan", DAY) is Tier.TOWNSHIP
    assert item.handling_tier_for(Tier.COMMUNITY, "she-dongcun", DAY) is Tier.TOWNSHIP


def test_catalog_items_for_each_tier(demo):
    county = [i.code for i in demo.items_for(Tier.COUNTY, "county", DAY)]
    assert county == [f"X{n:02d}" for n in range(1, 20)]
    community = {i.code for i in demo.items_for(Tier.COMMUNITY, "she-dongcun", DAY)}
    assert community == {
        "X08", "X09", "X10", "X11", "X12", "X13", "X14", "X15", "X16", "X17", "X19", "Z01",
        "Z02",
    }  # fmt: skip
    other = {i.code for i in demo.items_for(Tier.COMMUNITY, "she-xicun", DAY)}
    assert other == community - {"X17"}
    township = {i.code for i in demo.items_for(Tier.TOWNSHIP, "zhen-other", DAY)}
    assert township == {f"X{n:02d}" for n in range(1, 20)} - {"X03", "X06", "X07"} | {
        "Z01",
        "Z02",
    }


def test_catalog_item_lookup_raises_not_found(demo):
    assert demo.item("X01").name == "个体工商户设立登记"
    with pytest.raises(NotFoundError) as caught:
        demo.item("nope")
    assert caught.value.code == "catalog_item_not_found"
    with pytest.raises(NotFoundError):
        demo.department("nope")


def test_enum_labels_and_national_codes():
    assert [t.national_code for t in Tier] == ["4", "5", "6"]
    assert Tier.TOWNSHIP.label == "乡镇（街道）级"
    assert ItemType("01").label == "行政许可"
    assert ItemType.PUBLIC_SERVICE.value == "20"
    assert DelegationMode.WINDOW_FORWARD.label == "窗口前移"
    assert [m.decides for m in DelegationMode] == [True, True, True, False, False]
    assert MaterialRequirement.DEFERRABLE.label == "容缺后补"
    assert ProcedureKind.TESTING.art45 and not ProcedureKind.PUBLICITY.art45
    assert Tier.COMMUNITY.is_below(Tier.TOWNSHIP) and not Tier.COUNTY.is_below(Tier.COUNTY)


# --- codec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", b"{}", b'{"county": 1, "departments": [], "items": []}'],
)
def test_decode_catalog_rejects_garbage(data):
    with pytest.raises(InvalidError) as caught:
        decode_catalog(data)
    assert caught.value.code == "catalog_decode_failed"
    assert "事项目录文件无法读取" in caught.value.message


def test_decode_catalog_rejects_unknown_fields():
    data = encode_catalog(_catalog(_item())).replace(b'"extension_days"', b'"extension_dayz"')
    with pytest.raises(InvalidError) as caught:
        decode_catalog(data)
    assert "extension_dayz" in caught.value.message


def test_decode_catalog_rejects_other_format_version():
    data = encode_catalog(msgspec.structs.replace(_catalog(_item()), format=2))
    with pytest.raises(InvalidError) as caught:
        decode_catalog(data)
    assert caught.value.code == "catalog_format_unsupported"


def test_encode_catalog_omits_defaults_below_top():
    data = encode_catalog(_catalog(_item()))
    assert data.startswith(b'{"format":1,')
    assert b"warning_days" not in data
    assert decode_catalog(data).item("T1").warning_days == 1


_text = st.text(st.characters(codec="utf-8"), max_size=8)
_days = st.integers(min_value=-3, max_value=90)
_limits = st.none() | st.builds(TimeLimit, days=_days, unit=st.sampled_from(LimitUnit), note=_text)
_delegations = st.builds(
    Delegation,
    mode=st.sampled_from(DelegationMode),
    tier=st.sampled_from(Tier),
    node_ids=st.lists(st.sampled_from(["zhen-shifan", "she-dongcun", "n"]), max_size=2).map(tuple),
    effective_from=st.none() | st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    note=_text,
)
_materials = st.builds(
    Material,
    code=_text,
    name=_text,
    form=st.sampled_from(MaterialForm),
    requirement=st.sampled_from(MaterialRequirement),
    source=st.sampled_from(MaterialSource),
    copies=st.builds(Copies, original=st.integers(0, 5), copy=st.integers(0, 5)),
    notes=_text,
)
_procedures = st.builds(
    SpecialProcedure,
    name=_text,
    kind=st.sampled_from(ProcedureKind),
    counts_toward_limit=st.booleans(),
    basis=_text,
    typical_days=st.none() | _days,
)
_items = st.builds(
    Item,
    code=_text,
    name=_text,
    item_type=st.sampled_from(ItemType),
    codes=st.builds(ItemCodes, basic=_text, implementation=_text, handle_item=_text, local=_text),
    lead_department=st.sampled_from(["d1", "d2", "t1", ""]),
    home_tier=st.sampled_from(Tier),
    project_type=st.sampled_from(ProjectType),
    statutory=_limits,
    promised=_limits,
    extension_days=st.integers(-1, 30),
    issuance_days=st.none() | st.integers(0, 20),
    warning_days=st.integers(0, 5),
    special_procedures=st.lists(_procedures, max_size=2).map(tuple),
    parallel_departments=st.lists(st.sampled_from(["d1", "d2", "d3"]), max_size=2).map(tuple),
    delegations=st.lists(_delegations, max_size=3).map(tuple),
    conditions=st.lists(_text, max_size=2).map(tuple),
    materials=st.lists(_materials, max_size=3).map(tuple),
    service_objects=st.lists(st.sampled_from(ServiceObject), max_size=2).map(tuple),
    on_site_visits=st.integers(0, 3),
    online=st.booleans(),
    commitment_mode=st.booleans(),
    fee=st.builds(Fee, charged=st.booleans(), basis=_text, standard=_text),
)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(_items, max_size=4))
def test_catalog_round_trips_through_json(items):
    catalog = _catalog(*items)
    assert decode_catalog(encode_catalog(catalog)) == catalog
    assert isinstance(catalog.validate(), list)


@settings(max_examples=200, deadline=None)
@given(item=_items)
def test_case_terms_joint_never_exceeds_caps(item):
    if item.statutory and item.promised and item.statutory.unit is not item.promised.unit:
        return
    terms = item.case_terms()
    if item.project_type is ProjectType.JOINT and terms.unit is WD:
        assert terms.statutory_days is None or terms.statutory_days <= 45
        assert terms.extension_days <= 15
    else:
        assert terms.extension_days == item.extension_days


@settings(max_examples=200, deadline=None)
@given(
    item=_items,
    tier=st.sampled_from(Tier),
    node=st.sampled_from(["zhen-shifan", "she-dongcun", "x"]),
    on=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
)
def test_handling_tier_between_receiving_and_home_tier(item, tier, node, on):
    handler = item.handling_tier_for(tier, node, on)
    if tier is item.home_tier:
        assert handler is tier
    if handler is None:
        assert not item.can_accept_at(tier, node, on)
        return
    assert handler is tier or tier.is_below(handler)
    assert handler is item.home_tier or handler.is_below(item.home_tier)
    if tier is not item.home_tier:
        d = item.delegation_at(tier, node, on)
        assert d is not None
        assert (handler is tier) == d.mode.decides
