// PouchDB reference for the replication benchmark (`make bench`, tests/bench/sync_bench.py).
//
// Starts express-pouchdb on the in-memory adapter on 127.0.0.1, builds the same number of case
// documents in an in-memory client database and times `replicate.to` over HTTP, then adds the
// catch-up documents and times the second (checkpointed) replication. Each case document gets
// its events in the same transactions as a tongban case (one revision per transaction), using
// the event JSON that the Python side passes in, so the payload is comparable.
//
// Usage: node pouch_bench.mjs CONFIG.json   (prints one JSON object on stdout)
// CONFIG: {cases, catchup, runs, batch_sizes: [..], deadline_s, transactions: [[event, ..], ..]}

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const PouchDB = require("pouchdb-core")
  .plugin(require("pouchdb-adapter-memory"))
  .plugin(require("pouchdb-adapter-http"))
  .plugin(require("pouchdb-mapreduce"))
  .plugin(require("pouchdb-replication"));
const express = require("express");
const expressPouchDB = require("express-pouchdb");

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

// The server must stop by itself even if the caller dies: a hard deadline for the whole run.
const deadline = setTimeout(() => {
  process.stderr.write(`pouch_bench: deadline of ${config.deadline_s} s reached, stopping\n`);
  process.exit(3);
}, config.deadline_s * 1000);

const ServerPouch = PouchDB.defaults({ adapter: "memory" });
const ClientPouch = PouchDB.defaults({ adapter: "memory" });

function startServer() {
  const app = express();
  app.use("/", expressPouchDB(ServerPouch, { mode: "minimumForPouchDB" }));
  const sockets = new Set();
  const counted = { read: 0, written: 0 };
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve({ server, sockets, counted }));
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => {
        counted.read += socket.bytesRead;
        counted.written += socket.bytesWritten;
        sockets.delete(socket);
      });
    });
  });
}

function wireBytes({ sockets, counted }) {
  let total = counted.read + counted.written;
  for (const socket of sockets) total += socket.bytesRead + socket.bytesWritten;
  return total;
}

function stamp(event, caseId) {
  return { ...event, id: randomUUID(), case_id: caseId };
}

// Writes `count` case documents, one bulkDocs round per transaction, so that every document
// ends with one revision per transaction and the events of all transactions.
async function buildCases(db, count) {
  const ids = Array.from({ length: count }, () => randomUUID());
  const docs = new Map(ids.map((id) => [id, { _id: id, events: [] }]));
  for (const transaction of config.transactions) {
    for (let start = 0; start < ids.length; start += 1000) {
      const chunk = ids.slice(start, start + 1000).map((id) => {
        const doc = docs.get(id);
        doc.events = [...doc.events, ...transaction.map((event) => stamp(event, id))];
        return doc;
      });
      const results = await db.bulkDocs(chunk);
      results.forEach((result, index) => {
        if (!result.ok) throw new Error(`bulkDocs failed: ${JSON.stringify(result)}`);
        chunk[index]._rev = result.rev;
      });
    }
  }
  return docs;
}

async function replicate(source, target, batchSize) {
  const started = performance.now();
  const result = await source.replicate.to(target, { batch_size: batchSize });
  const seconds = (performance.now() - started) / 1000;
  if (!result.ok || result.doc_write_failures) {
    throw new Error(`replication failed: ${JSON.stringify(result)}`);
  }
  return { seconds, docs_written: result.docs_written };
}

async function oneRun(handle, port, run, batchSize) {
  const name = `bench-${run}-${batchSize}`;
  const client = new ClientPouch(`client-${name}`);
  await buildCases(client, config.cases);
  const remote = new PouchDB(`http://127.0.0.1:${port}/${name}`);
  await remote.info(); // creates the database before the clock starts
  const bytesBefore = wireBytes(handle);
  const full = await replicate(client, remote, batchSize);
  const bytesFull = wireBytes(handle) - bytesBefore;
  await buildCases(client, config.catchup);
  const catchup = await replicate(client, remote, batchSize);
  const bytesCatchup = wireBytes(handle) - bytesBefore - bytesFull;
  const info = await remote.info();
  if (info.doc_count !== config.cases + config.catchup) {
    throw new Error(`server holds ${info.doc_count} documents`);
  }
  const sample = await client.get((await client.allDocs({ limit: 1 })).rows[0].id);
  await remote.destroy();
  await client.destroy();
  return {
    batch_size: batchSize,
    full_s: full.seconds,
    full_docs: full.docs_written,
    full_bytes: bytesFull,
    catchup_s: catchup.seconds,
    catchup_docs: catchup.docs_written,
    catchup_bytes: bytesCatchup,
    doc_json_bytes: Buffer.byteLength(JSON.stringify(sample)),
  };
}

async function main() {
  const handle = await startServer();
  const port = handle.server.address().port;
  const runs = [];
  try {
    for (const batchSize of config.batch_sizes) {
      for (let run = 0; run < config.runs; run += 1) {
        runs.push(await oneRun(handle, port, run, batchSize));
      }
    }
  } finally {
    handle.server.close();
    for (const socket of handle.sockets) socket.destroy();
  }
  const versions = {};
  for (const name of ["pouchdb-core", "express-pouchdb", "express"]) {
    versions[name] = require(`${name}/package.json`).version;
  }
  process.stdout.write(`${JSON.stringify({ node: process.version, versions, runs })}\n`);
  clearTimeout(deadline);
}

main().catch((error) => {
  process.stderr.write(`pouch_bench: ${error.stack || error}\n`);
  process.exit(1);
});
