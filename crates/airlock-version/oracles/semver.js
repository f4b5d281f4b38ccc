// Oracle: node-semver's compare (strict parse, no loose mode); -1/0/1 or E.
const semver = require("semver");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.length);
const out = lines.map((line) => {
  const [a, b] = line.split("\t");
  const va = semver.parse(a), vb = semver.parse(b);
  if (!va || !vb) return "E";
  return String(semver.compare(va, vb));
});
process.stdout.write(out.join("\n") + "\n");
