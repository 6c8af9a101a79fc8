// The object-visible parts of GW-7 and GW-8; the NGINX config itself is tested with nginx/.

import { Check, Violation, asArray, containersOf, findObject, isObject, podTemplateOf, violation } from "./k8s";
import { EXPOSED_SERVICE } from "./network";

function gatewayContainer(objects: Parameters<Check>[0], ns: string) {
  const d = findObject(objects, "Deployment", EXPOSED_SERVICE, ns);
  const t = d && podTemplateOf(d);
  const c = t && containersOf(t.spec).find((x) => !x.init);
  return { d, t, c };
}

/** GW-7 (object part): the gateway's readiness and liveness probes use its local /healthz. */
export const gw7: Check = (objects, ctx) => {
  const { d, c } = gatewayContainer(objects, ctx.namespace);
  if (!d || !c) return [];
  const out: Violation[] = [];
  for (const kind of ["readinessProbe", "livenessProbe"]) {
    const p = c.c?.[kind];
    if (!isObject(p?.httpGet) || p.httpGet.path !== "/healthz") out.push(violation("GW-7", d, `${c.label}: ${kind} must be an httpGet on /healthz`));
  }
  return out;
};

/** GW-8 (object part): the gateway listens on 8080, runs as a non-root uid, read-only root, /tmp emptyDir. */
export const gw8: Check = (objects, ctx) => {
  const { d, t, c } = gatewayContainer(objects, ctx.namespace);
  if (!d || !t || !c) return [];
  const out: Violation[] = [];
  if (!asArray(c.c?.ports).some((p: any) => p?.containerPort === 8080)) out.push(violation("GW-8", d, `${c.label}: must declare containerPort 8080`));
  const uid = c.c?.securityContext?.runAsUser ?? t.spec.securityContext?.runAsUser;
  if (!(typeof uid === "number" && uid > 0)) out.push(violation("GW-8", d, `${c.label}: must run as a non-root uid`));
  if (c.c?.securityContext?.readOnlyRootFilesystem !== true) out.push(violation("GW-8", d, `${c.label}: root filesystem must be read-only`));
  const tmp = asArray(c.c?.volumeMounts).find((m: any) => m?.mountPath === "/tmp");
  const vol = tmp && asArray(t.spec.volumes).find((v: any) => v?.name === tmp.name);
  if (!isObject(vol?.emptyDir)) out.push(violation("GW-8", d, `${c.label}: /tmp must be an emptyDir`));
  return out;
};
