// SEC-1 (and the detectors POD-12 shares), plus the object part of SEC-4.
//
// SEC-2 (generated secrets are Pulumi secrets end to end, stack outputs marked secret) is
// not checkable on Kubernetes objects: secretness is a property of Pulumi outputs, tested
// against the program's outputs elsewhere.
// SEC-3 and SEC-5 are properties of the SQL, tested with the SQL.

import { Check, K8sObject, Violation, asArray, containersOf, isObject, ofKind, podTemplates, violation } from "./k8s";

/** Patterns that give a secret away wherever they appear. Each returns a short reason. */
const SECRET_PATTERNS: { re: RegExp; what: string }[] = [
  { re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/, what: "a PEM private key" },
  { re: /\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}/, what: "a bcrypt password hash" },
  { re: /SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+/, what: "a SCRAM password verifier" },
  { re: /\bmd5[0-9a-f]{32}\b/, what: "an md5 password hash" },
  { re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, what: "a JWT" },
  { re: /\bAKIA[0-9A-Z]{16}\b/, what: "an AWS access key id" },
  // SQL: CREATE/ALTER ROLE ... PASSWORD 'literal' (psql variables :'pw' and NULL are fine)
  { re: /\bPASSWORD\s+'[^']+'/i, what: "a literal SQL password" },
  // crypt('literal', gen_salt(...)): the plaintext would sit in the ConfigMap
  { re: /\bcrypt\s*\(\s*'[^']+'/i, what: "a literal password passed to crypt()" },
];

/** A reference to a variable rather than a value: $(VAR), ${VAR}, $VAR, :'var', %s, {{x}}. */
function isVariableRef(s: string): boolean {
  return /^(\$\(?\{?[A-Za-z_][A-Za-z0-9_]*\}?\)?|:'?[A-Za-z_][A-Za-z0-9_]*'?|%[sd]|\{\{.*\}\}|\*+|<[^>]*>)$/.test(s);
}

const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/([^\s:@/'"]*):([^\s@/'"]+)@/gi;

/**
 * The render's redaction marker (scripts/render.ts): it replaces Secret values, and any
 * secret value that reached another place, so outside a Secret it marks a leak.
 */
export const REDACTION_MARKER = "<redacted>";

/**
 * Reasons why this text contains a secret; empty when it looks clean. `inSecret`: the
 * text is a Secret's value, where the redaction marker is expected.
 */
export function secretFindings(text: string, inSecret = false): string[] {
  if (typeof text !== "string" || text.length === 0) return [];
  const found: string[] = [];
  if (!inSecret && text.includes(REDACTION_MARKER)) found.push("a secret value (redacted by the render)");
  for (const { re, what } of SECRET_PATTERNS) if (re.test(text)) found.push(what);
  for (const m of text.matchAll(URL_WITH_PASSWORD)) {
    if (!isVariableRef(m[2])) {
      found.push("a URL with an embedded password");
      break;
    }
  }
  return found;
}

const SENSITIVE_WORD = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIALS?|APIKEY|KEY)$/;
const SENSITIVE_INNER = /(PASSWORD|PASSWD|PASSPHRASE|SECRET)/;

/**
 * Whether a variable/key name announces a secret. The last word decides (DB_PASSWORD,
 * PGPASSWORD, JWT_SECRET, API_KEY, ACCESS_TOKEN), so ACCESS_TOKEN_EXPIRE_MINUTES,
 * POSTGRES_PASSWORD_FILE, PRIVATE_KEY_PATH or public_key.pem are not sensitive: they
 * name a setting or a file, which is the recommended way to pass a secret.
 */
export function isSensitiveName(name: string): boolean {
  const words = name.toUpperCase().split(/[^A-Z0-9]+/).filter(Boolean);
  const last = words[words.length - 1] ?? "";
  if (SENSITIVE_WORD.test(last)) return !/^(MONKEY|TURKEY|HOCKEY|JOCKEY|DONKEY)$/.test(last);
  return SENSITIVE_INNER.test(last);
}

/** Literal env values of every container that look like secrets (shared by POD-12 and SEC-1). */
export function envLiteralFindings(objects: readonly K8sObject[], id: string): Violation[] {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    for (const { c, label } of containersOf(t.spec)) {
      for (const e of asArray(c?.env)) {
        if (typeof e?.value !== "string" || e.value === "" || e.valueFrom) continue;
        const findings = secretFindings(e.value);
        if (findings.length) out.push(violation(id, t.owner, `${label} env ${e.name} holds ${findings.join(", ")} as a literal value; use valueFrom.secretKeyRef or a mounted file`));
        else if (isSensitiveName(e.name) && !isVariableRef(e.value))
          out.push(violation(id, t.owner, `${label} env ${e.name} looks like a secret but has a literal value; use valueFrom.secretKeyRef or a mounted file`));
      }
    }
  }
  return out;
}

function decodeBase64(v: string): string {
  try {
    return Buffer.from(v, "base64").toString("utf8");
  } catch {
    return "";
  }
}

/**
 * SEC-1 no password, token, key or password hash in a ConfigMap, a literal env value, a
 * command line, an annotation, or (redaction check) a Secret of the render: the render
 * replaces every Secret value with a marker, so a Secret value that still looks like a
 * secret means the redaction failed and the render file would leak it.
 */
export const sec1: Check = (objects) => {
  const out: Violation[] = [];
  for (const cm of ofKind(objects, "ConfigMap")) {
    const entries: [string, string][] = [
      ...Object.entries<any>(cm.data ?? {}).map(([k, v]): [string, string] => [k, String(v)]),
      ...Object.entries<any>(cm.binaryData ?? {}).map(([k, v]): [string, string] => [k, decodeBase64(String(v))]),
    ];
    for (const [k, v] of entries) {
      const f = secretFindings(v);
      if (f.length) out.push(violation("SEC-1", cm, `key "${k}" contains ${f.join(", ")}; it belongs in a Secret`));
      else if (isSensitiveName(k) && v.trim() !== "") out.push(violation("SEC-1", cm, `key "${k}" names a secret; it belongs in a Secret`));
    }
  }
  out.push(...envLiteralFindings(objects, "SEC-1"));
  for (const t of podTemplates(objects)) {
    for (const { c, label } of containersOf(t.spec)) {
      const words = [...asArray<string>(c?.command), ...asArray<string>(c?.args)].filter((s) => typeof s === "string");
      const f = [...new Set(words.flatMap((w) => secretFindings(w)))];
      if (f.length) out.push(violation("SEC-1", t.owner, `${label} command line contains ${f.join(", ")}`));
      for (const w of words) {
        const m = /\b([A-Z_]*(?:PASSWORD|SECRET|TOKEN))=([^\s"';]+)/.exec(w);
        if (m && !isVariableRef(m[2])) out.push(violation("SEC-1", t.owner, `${label} command line sets ${m[1]} to a literal value`));
      }
    }
  }
  for (const s of ofKind(objects, "Secret")) {
    const vals: [string, string][] = [
      ...Object.entries<any>(s.data ?? {}).map(([k, v]): [string, string] => [k, decodeBase64(String(v))]),
      ...Object.entries<any>(s.stringData ?? {}).map(([k, v]): [string, string] => [k, String(v)]),
    ];
    for (const [k, v] of vals) {
      const f = secretFindings(v, true);
      if (f.length) out.push(violation("SEC-1", s, `key "${k}" is not redacted in the render: it contains ${f.join(", ")}`));
    }
  }
  for (const o of objects) {
    for (const where of ["annotations", "labels"] as const) {
      const m = o.metadata?.[where];
      if (!isObject(m)) continue;
      for (const [k, v] of Object.entries(m)) {
        const f = secretFindings(String(v));
        if (f.length) out.push(violation("SEC-1", o, `${where.slice(0, -1)} "${k}" contains ${f.join(", ")}`));
      }
    }
  }
  return out;
};

/**
 * SEC-4 (object part): the database never runs in `trust` mode and keeps scram-sha-256.
 * The SQL/pg_hba part is tested with the database itself.
 */
export const sec4: Check = (objects) => {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    for (const { c, label } of containersOf(t.spec)) {
      for (const e of asArray(c?.env)) {
        if (typeof e?.value !== "string") continue;
        if (e.name === "POSTGRES_HOST_AUTH_METHOD" && e.value !== "scram-sha-256")
          out.push(violation("SEC-4", t.owner, `${label} sets POSTGRES_HOST_AUTH_METHOD=${e.value}; use scram-sha-256`));
        if (e.name === "POSTGRES_INITDB_ARGS" && /--auth(-host|-local)?[= ](trust|md5|password)\b/.test(e.value))
          out.push(violation("SEC-4", t.owner, `${label} POSTGRES_INITDB_ARGS weakens authentication: ${e.value}`));
      }
      const cmd = [...asArray<string>(c?.command), ...asArray<string>(c?.args)].join(" ");
      if (/password_encryption\s*=\s*'?(md5|on|off)\b/i.test(cmd)) out.push(violation("SEC-4", t.owner, `${label} command line sets password_encryption to something weaker than scram-sha-256`));
    }
  }
  for (const cm of ofKind(objects, "ConfigMap")) {
    for (const [k, v] of Object.entries<any>(cm.data ?? {})) {
      const text = String(v);
      if (/^\s*(local|host|hostssl|hostnossl|hostgssenc|hostnogssenc)\s+\S+\s+\S+(\s+\S+)?\s+trust\b/m.test(text))
        out.push(violation("SEC-4", cm, `key "${k}" has a pg_hba 'trust' line`));
      if (/password_encryption\s*=\s*'?(md5|on|off)\b/i.test(text)) out.push(violation("SEC-4", cm, `key "${k}" sets password_encryption weaker than scram-sha-256`));
    }
  }
  return out;
};
