// Validate rendered ServiceMonitor and PrometheusRule objects against the prometheus-operator CRD schemas
// (the validators of the npm package @kubernetes-models/prometheus-operator, generated from those schemas).
// Usage: node scripts/chart/validate-crds.mjs MODULES_DIR < objects.json   (a JSON array of objects)
// Prints one line per problem ("<kind>/<name>: <path> <message>") and exits 1 when there is any.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const load = async (kind) =>
  (await import(pathToFileURL(`${modules}/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}.js`).href))[kind];
const models = { ServiceMonitor: await load("ServiceMonitor"), PrometheusRule: await load("PrometheusRule") };
const objects = JSON.parse(readFileSync(0, "utf8"));
let problems = 0;
for (const obj of objects) {
  const Model = models[obj.kind];
  if (!Model) { console.log(`${obj.kind}: no schema here`); problems++; continue; }
  try {
    new Model(obj).validate();
  } catch (error) {
    problems++;
    const details = (error.errors || []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
    console.log(`${obj.kind}/${obj.metadata?.name}: ${details || error.message}`);
  }
}
process.exit(problems ? 1 : 0);
