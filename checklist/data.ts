// DATA-1..2. DATA-3 (idempotent SQL) and DATA-4 (SQL changes reach an existing database)
// are properties of the SQL and the deploy, tested against a real PostgreSQL, not here.

import { Check, K8sObject, Violation, asArray, containersOf, findObject, ofKind, podTemplateOf, violation } from "./k8s";
import { DATABASE_WORKLOAD } from "./availability";

/**
 * The annotation scripts/render.ts puts on objects Pulumi registered with `protect: true` (it
 * reads the resource options through a stack transformation): the only trace of `protect` on an object.
 */
export const PROTECTED_ANNOTATION = "render.asky.io/pulumi-protect";
export const DATABASE_PVC = "postgres-pv-claim";
export const BACKUP_CRONJOB = "postgres-backup";

/** PVC names the database StatefulSet mounts, plus the conventional name. */
export function databaseClaims(objects: readonly K8sObject[], ns: string): string[] {
  const names = new Set<string>([DATABASE_PVC]);
  const sts = findObject(objects, "StatefulSet", DATABASE_WORKLOAD, ns);
  const t = sts && podTemplateOf(sts);
  for (const v of asArray(t?.spec?.volumes)) if (v?.persistentVolumeClaim?.claimName) names.add(v.persistentVolumeClaim.claimName);
  return [...names];
}

/**
 * DATA-1 prod: the database StatefulSet and its PVC are protected from `pulumi destroy`
 * (Pulumi's protect option is invisible on the object; the render marks it with the
 * annotation render.asky.io/pulumi-protect: "true"); a StorageClass the stack defines reclaims with
 * Retain. PersistentVolumes reclaim with Retain in every stack: the architecture gives
 * the dev hostPath PV Retain too, and a Delete PV loses the data with its claim.
 */
export const data1: Check = (objects, ctx) => {
  const out: Violation[] = [];
  for (const pv of ofKind(objects, "PersistentVolume"))
    if (pv.spec?.persistentVolumeReclaimPolicy !== "Retain")
      out.push(violation("DATA-1", pv, `persistentVolumeReclaimPolicy must be Retain (is ${pv.spec?.persistentVolumeReclaimPolicy ?? "unset"})`));
  if (ctx.stack !== "prod") return out;
  for (const sc of ofKind(objects, "StorageClass"))
    if (sc.reclaimPolicy !== "Retain") out.push(violation("DATA-1", sc, `reclaimPolicy must be Retain (is ${sc.reclaimPolicy ?? "Delete (default)"})`));
  const targets: [string, string][] = [["StatefulSet", DATABASE_WORKLOAD], ...databaseClaims(objects, ctx.namespace).map((n): [string, string] => ["PersistentVolumeClaim", n])];
  for (const [kind, name] of targets) {
    const o = findObject(objects, kind, name, ctx.namespace);
    if (!o) {
      if (kind === "StatefulSet" || name === DATABASE_PVC) out.push(violation("DATA-1", `${kind}/${name}`, "the database object is missing"));
      continue;
    }
    if (o.metadata.annotations?.[PROTECTED_ANNOTATION] !== "true")
      out.push(violation("DATA-1", o, `is not protected from destroy (annotation ${PROTECTED_ANNOTATION}: "true" missing)`));
  }
  return out;
};

/**
 * DATA-2 the backup CronJob (required in prod, optional in dev): a schedule, pg_dump,
 * concurrencyPolicy Forbid, both history limits, startingDeadlineSeconds, and its own
 * PVC (existing, not the database's) mounted by the dump container.
 */
export const data2: Check = (objects, ctx) => {
  const out: Violation[] = [];
  const cj = findObject(objects, "CronJob", BACKUP_CRONJOB, ctx.namespace);
  if (!cj) return ctx.stack === "prod" ? [violation("DATA-2", `CronJob/${BACKUP_CRONJOB}`, "prod needs the backup CronJob")] : [];
  const s = cj.spec ?? {};
  if (typeof s.schedule !== "string" || s.schedule.trim() === "") out.push(violation("DATA-2", cj, "has no schedule"));
  if (s.suspend === true && ctx.stack === "prod") out.push(violation("DATA-2", cj, "is suspended"));
  if (s.concurrencyPolicy !== "Forbid") out.push(violation("DATA-2", cj, `concurrencyPolicy must be Forbid (is ${s.concurrencyPolicy ?? "Allow (default)"})`));
  for (const f of ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"])
    if (!(typeof s[f] === "number" && s[f] >= 1)) out.push(violation("DATA-2", cj, `${f} must be set (≥ 1) (is ${s[f] ?? "unset"})`));
  if (!(typeof s.startingDeadlineSeconds === "number" && s.startingDeadlineSeconds > 0))
    out.push(violation("DATA-2", cj, `startingDeadlineSeconds must be set (is ${s.startingDeadlineSeconds ?? "unset"})`));
  const t = podTemplateOf(cj);
  const dbClaims = new Set(databaseClaims(objects, ctx.namespace));
  const volumes = asArray(t?.spec?.volumes);
  const mounted = new Set(containersOf(t?.spec).flatMap((c) => asArray(c.c?.volumeMounts).map((m: any) => m?.name)));
  const claims = volumes.filter((v: any) => v?.persistentVolumeClaim?.claimName && mounted.has(v.name));
  if (claims.length === 0) out.push(violation("DATA-2", cj, "mounts no PersistentVolumeClaim for the dumps"));
  for (const v of claims) {
    const name = v.persistentVolumeClaim.claimName;
    if (dbClaims.has(name)) out.push(violation("DATA-2", cj, `writes to the database's own PVC ${name}; the backup needs its own`));
    else if (!findObject(objects, "PersistentVolumeClaim", name, ctx.namespace)) out.push(violation("DATA-2", cj, `PVC ${name} does not exist`));
  }
  // pg_dump on the command line, or in a script the job mounts from a ConfigMap
  const cmdText = containersOf(t?.spec).map((c) => [...asArray(c.c?.command), ...asArray(c.c?.args)].join(" ")).join("\n");
  const scripts = volumes
    .filter((v: any) => v?.configMap?.name)
    .map((v: any) => findObject(objects, "ConfigMap", v.configMap.name, ctx.namespace))
    .flatMap((cm) => Object.values<any>(cm?.data ?? {}).map(String))
    .join("\n");
  if (!/\bpg_dump(all)?\b/.test(cmdText + "\n" + scripts)) out.push(violation("DATA-2", cj, "runs no pg_dump (neither on its command line nor in a mounted script)"));
  return out;
};
