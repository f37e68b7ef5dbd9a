"""The service-item catalog (政务服务事项实施清单) of one county.

Each :class:`Item` carries the element set a window clerk and the deadline fold need: codes,
legal basis, time limits, special procedures, materials (with 容缺), fees and how the item is
pushed down to townships and communities. Codes from the national schemes are stored as opaque
strings and never parsed; the project's own ``Item.code`` is the stable key cases refer to.

Validation returns every problem at once, in Chinese, so an administrator can fix a catalog in
one pass; :meth:`Catalog.check` turns a non-empty list into :class:`ValidationError`.
"""

from __future__ import annotations

import string
from datetime import date
from enum import StrEnum

import msgspec

from shared.delegation import Delegation, Tier, delegation_in_force, handling_tier
from shared.errors import InvalidError, NotFoundError, ValidationError
from shared.terms import CaseTerms, LimitUnit, ProcedureKind, ProjectType

CATALOG_FORMAT = 1
MAX_CODE_LENGTH = 50
JOINT_STATUTORY_CAP = 45  # 行政许可法 art. 42 ¶2, working days
JOINT_EXTENSION_CAP = 15
DEFAULT_ISSUANCE_DAYS = 10  # 行政许可法 art. 44
USCC_CHARS = frozenset(string.digits + "ABCDEFGHJKLMNPQRTUWXY")  # GB 32100 excludes IOZSV


class _Labelled(StrEnum):
    @property
    def label(self) -> str:
        """Chinese name shown to clerks and residents."""
        return _LABELS[self]


class ItemType(_Labelled):
    """事项类型, valued by the GB/T 39046 A.1 code."""

    POWER = "00"
    LICENCE = "01"
    PENALTY = "02"
    COERCION = "03"
    LEVY = "04"
    BENEFIT = "05"
    INSPECTION = "06"
    CONFIRMATION = "07"
    REWARD = "08"
    ADJUDICATION = "09"
    OTHER = "10"
    PUBLIC_SERVICE = "20"


class ServiceObject(_Labelled):
    """服务对象, valued by the GB/T 39046 A.4 code."""

    PERSON = "1"
    ENTERPRISE = "2"
    INSTITUTION = "3"
    SOCIAL_ORGANISATION = "4"
    ADMINISTRATIVE_ORGAN = "5"
    OTHER_ORGANISATION = "6"


class MaterialForm(_Labelled):
    """Form in which a material is handed in."""

    ORIGINAL = "original"
    COPY = "copy"
    ORIGINAL_CHECK = "original_check"  # 验原件留复印件 or view only
    ELECTRONIC = "electronic"


class MaterialRequirement(_Labelled):
    """Whether a material must be present at acceptance."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    DEFERRABLE = "deferrable"  # 容缺: may follow after acceptance under a written commitment


class MaterialSource(_Labelled):
    """Where a material comes from."""

    APPLICANT = "applicant"
    SHARED = "shared"  # 数据共享免提交 (国务院令第716号 art. 7)
    ISSUED = "issued"  # issued by a government body or another organisation


_LABELS: dict[StrEnum, str] = {
    ItemType.POWER: "行政权力事项",
    ItemType.LICENCE: "行政许可",
    ItemType.PENALTY: "行政处罚",
    ItemType.COERCION: "行政强制",
    ItemType.LEVY: "行政征收",
    ItemType.BENEFIT: "行政给付",
    ItemType.INSPECTION: "行政检查",
    ItemType.CONFIRMATION: "行政确认",
    ItemType.REWARD: "行政奖励",
    ItemType.ADJUDICATION: "行政裁决",
    ItemType.OTHER: "其他行政权力",
    ItemType.PUBLIC_SERVICE: "公共服务",
    ServiceObject.PERSON: "自然人",
    ServiceObject.ENTERPRISE: "企业法人",
    ServiceObject.INSTITUTION: "事业法人",
    ServiceObject.SOCIAL_ORGANISATION: "社会组织法人",
    ServiceObject.ADMINISTRATIVE_ORGAN: "行政机关",
    ServiceObject.OTHER_ORGANISATION: "其他组织",
    MaterialForm.ORIGINAL: "原件",
    MaterialForm.COPY: "复印件",
    MaterialForm.ORIGINAL_CHECK: "原件核验",
    MaterialForm.ELECTRONIC: "电子材料",
    MaterialRequirement.REQUIRED: "必要",
    MaterialRequirement.OPTIONAL: "非必要",
    MaterialRequirement.DEFERRABLE: "容缺后补",
    MaterialSource.APPLICANT: "申请人自备",
    MaterialSource.SHARED: "数据共享免提交",
    MaterialSource.ISSUED: "政府部门或机构出具",
}


class _Part(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """Base of the catalog's nested records.

    Defaults are left out of the JSON to keep hand-edited catalogs short, and unknown keys are
    rejected so that a misspelt field is an error instead of a silently ignored value.
    """


class Region(_Part, frozen=True, kw_only=True):
    """The county the catalog belongs to: 6-digit division code and name."""

    code: str
    name: str


class Department(_Part, frozen=True, kw_only=True):
    """An implementing body. ``uscc`` is the 18-character 统一社会信用代码, "" if unknown."""

    code: str
    name: str
    tier: Tier
    uscc: str = ""


class ItemCodes(_Part, frozen=True, kw_only=True):
    """Opaque codes from the national and local schemes; "" means the item has none."""

    basic: str = ""  # 基本编码
    implementation: str = ""  # 实施编码
    handle_item: str = ""  # 业务办理项编码
    local: str = ""  # 地方编码

    def named(self) -> dict[str, str]:
        """The codes keyed by field name."""
        return {f: getattr(self, f) for f in self.__struct_fields__}


class Copies(_Part, frozen=True, kw_only=True):
    """How many originals and photocopies of a material are handed in."""

    original: int = 0
    copy: int = 0


class Material(_Part, frozen=True, kw_only=True):
    """One entry of the 申请材料 list."""

    code: str
    name: str
    form: MaterialForm
    requirement: MaterialRequirement = MaterialRequirement.REQUIRED
    source: MaterialSource = MaterialSource.APPLICANT
    copies: Copies = Copies()
    notes: str = ""


class TimeLimit(_Part, frozen=True, kw_only=True):
    """A time limit: number of days, their unit and a 说明."""

    days: int
    unit: LimitUnit = LimitUnit.WORKING_DAYS
    note: str = ""

    def describe(self) -> str:
        """Chinese text such as "20个工作日"."""
        return f"{self.days}{self.unit.label}"


class SpecialProcedure(_Part, frozen=True, kw_only=True):
    """A 特别程序 that may pause the case clock.

    Attributes:
        counts_toward_limit: False when the time it takes is excluded from the limits, as
            行政许可法 art. 45 requires for its kinds and local rules allow for others.
        typical_days: usual duration, told to the applicant in writing; None when unknown.
    """

    name: str
    kind: ProcedureKind
    counts_toward_limit: bool
    basis: str = ""
    typical_days: int | None = None


class Fee(_Part, frozen=True, kw_only=True):
    """Whether the item is charged for, on what basis and at what standard."""

    charged: bool = False
    basis: str = ""
    standard: str = ""


class Contact(_Part, frozen=True, kw_only=True):
    """Where and when to apply, and whom to call."""

    address: str = ""
    hours: str = ""
    phone: str = ""
    complaint_phone: str = ""


class Item(_Part, frozen=True, kw_only=True):
    """One service item (事项) as the county implements it.

    ``lead_department`` is the implementing body (实施主体) of every item, and the lead (牵头)
    department of a joint item, whose ``parallel_departments`` take part in parallel. The
    home tier decides the item by default; ``delegations`` push it to lower tiers.
    """

    code: str
    name: str
    item_type: ItemType
    codes: ItemCodes
    lead_department: str
    home_tier: Tier
    project_type: ProjectType
    statutory: TimeLimit | None
    promised: TimeLimit | None
    extension_days: int = 0
    extension_approver: str = ""
    issuance_days: int | None = None
    warning_days: int = 1
    special_procedures: tuple[SpecialProcedure, ...] = ()
    parallel_departments: tuple[str, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    legal_basis: str = ""
    conditions: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()
    service_objects: tuple[ServiceObject, ...] = ()
    on_site_visits: int = 1
    online: bool = False
    result_name: str = ""
    commitment_mode: bool = False
    fee: Fee = Fee()
    contact: Contact = Contact()
    summary: str = ""

    def case_terms(self) -> CaseTerms:
        """The time terms a case of this item runs under.

        Joint items are capped at 45 working days plus one 15-day extension (行政许可法 art. 42
        ¶2) unless the item states less; a joint licence without a statutory limit gets the
        cap. When ``issuance_days`` is not set the art. 44 figure of 10 working days applies
        to every item: a generous default never raises a false alarm, and items that issue
        faster say so.

        Raises:
            InvalidError: the statutory and promised limits use different units, which the
                case terms cannot express (``validate`` reports this too).
        """
        statutory, promised = self.statutory, self.promised
        if statutory and promised and statutory.unit is not promised.unit:
            raise InvalidError(
                f"事项 {self.code} 的法定时限与承诺时限单位不一致，无法生成办件时限",
                code="catalog_mixed_units",
            )
        unit = (statutory or promised or TimeLimit(days=0)).unit
        statutory_days = statutory.days if statutory else None
        extension = self.extension_days
        if self.project_type is ProjectType.JOINT and unit is LimitUnit.WORKING_DAYS:
            if statutory_days is None and self.item_type is ItemType.LICENCE:
                statutory_days = JOINT_STATUTORY_CAP
            elif statutory_days is not None:
                statutory_days = min(statutory_days, JOINT_STATUTORY_CAP)
            extension = min(extension, JOINT_EXTENSION_CAP)
        return CaseTerms(
            project_type=self.project_type,
            promised_days=promised.days if promised else None,
            statutory_days=statutory_days,
            unit=unit,
            extension_days=extension,
            issuance_days=(
                DEFAULT_ISSUANCE_DAYS if self.issuance_days is None else self.issuance_days
            ),
            warning_days=self.warning_days,
        )

    def delegation_at(self, tier: Tier, node_id: str, on: date) -> Delegation | None:
        """The delegation under which ``node_id`` of ``tier`` takes the item on ``on``.

        None at the home tier (which needs none) and where the node may not take the item.
        """
        if tier is self.home_tier:
            return None
        return delegation_in_force(self.delegations, tier, node_id, on)

    def can_accept_at(self, tier: Tier, node_id: str, on: date) -> bool:
        """Whether a node of ``tier`` may accept an application for this item on ``on``."""
        return self.handling_tier_for(tier, node_id, on) is not None

    def handling_tier_for(self, tier: Tier, node_id: str, on: date) -> Tier | None:
        """The tier that decides a case accepted at ``node_id`` of ``tier`` on ``on``.

        Equal to ``tier`` when the node decides itself (home tier, 直接下放, 委托, 审核权), a
        higher tier when the node only receives and forwards, None when it may not accept.
        """
        return handling_tier(self.home_tier, self.delegations, tier, node_id, on)

    def validate(self) -> list[str]:
        """Problems inside this item, in Chinese, each naming the item code and field.

        Checks that need the whole catalog (departments exist, codes unique) are done by
        :meth:`Catalog.validate`.
        """
        # The rules module imports this schema, so it is loaded on first use.
        from shared.catalog_rules import item_problems

        return item_problems(self)


class Catalog(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The service-item catalog of one county, with its format version.

    Unlike the nested records, every top-level field is always written, so ``format`` is
    present in every file and a later reader can tell the version apart.
    """

    format: int = CATALOG_FORMAT
    county: Region
    departments: tuple[Department, ...]
    items: tuple[Item, ...]

    def item(self, code: str) -> Item:
        """The item with key ``code``.

        Raises:
            NotFoundError: no such item in the catalog.
        """
        for candidate in self.items:
            if candidate.code == code:
                return candidate
        raise NotFoundError(f"事项目录中没有编号为 {code} 的事项", code="catalog_item_not_found")

    def department(self, code: str) -> Department:
        """The department with code ``code``.

        Raises:
            NotFoundError: no such department in the catalog.
        """
        for candidate in self.departments:
            if candidate.code == code:
                return candidate
        raise NotFoundError(
            f"事项目录中没有编号为 {code} 的部门", code="catalog_department_not_found"
        )

    def items_for(self, tier: Tier, node_id: str, on: date) -> tuple[Item, ...]:
        """Items a node of ``tier`` may accept on ``on``, in catalog order."""
        return tuple(i for i in self.items if i.can_accept_at(tier, node_id, on))

    def validate(self) -> list[str]:
        """Every problem in the catalog, in Chinese; empty when it is sound."""
        from shared.catalog_rules import catalog_problems

        return catalog_problems(self)

    def check(self) -> None:
        """Raise when :meth:`validate` finds anything.

        Raises:
            ValidationError: with every problem listed.
        """
        problems = self.validate()
        if problems:
            raise ValidationError(problems)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Catalog)


def encode_catalog(catalog: Catalog) -> bytes:
    """The catalog as JSON bytes (fields left at their defaults are omitted below the top)."""
    return _ENCODER.encode(catalog)


def decode_catalog(data: bytes) -> Catalog:
    """Parse a catalog from JSON bytes; call :meth:`Catalog.check` to validate its content.

    Raises:
        InvalidError: the bytes are not a catalog of a supported format version.
    """
    try:
        catalog = _DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidError(
            f"事项目录文件无法读取：{exc}。请检查文件内容和格式。", code="catalog_decode_failed"
        ) from exc
    if catalog.format != CATALOG_FORMAT:
        raise InvalidError(
            f"事项目录格式版本为 {catalog.format}，本程序只支持版本 {CATALOG_FORMAT}",
            code="catalog_format_unsupported",
        )
    return catalog
