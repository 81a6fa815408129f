// Reads a Prisma schema on stdin and prints its datamodel (DMMF) as JSON, through Prisma's own parser
// and validator (@prisma/prisma-schema-wasm, the WebAssembly build of prisma-fmt). Errors go to stderr.
const wasm = require("@prisma/prisma-schema-wasm");
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  try {
    const dmmf = JSON.parse(wasm.get_dmmf(JSON.stringify({ prismaSchema: Buffer.concat(chunks).toString("utf8") })));
    process.stdout.write(JSON.stringify(dmmf.datamodel));
  } catch (err) {
    let message = String(err && err.message ? err.message : err);
    try { message = JSON.parse(message).message; } catch (_) { /* not JSON */ }
    process.stderr.write(message.replace(/\u001b\[[0-9;]*m/g, ""));
    process.exit(1);
  }
});
