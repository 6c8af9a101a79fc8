import { z } from "zod";

/**
 * The rules for the users seeded into auth.users: one zod schema that the config validation
 * (`asky:database.users`, with key paths) and the SQL renderer both apply, so nothing the
 * config accepts is refused later inside a component.
 */

export const USER_ROLES = ["admin", "nurse", "agent"] as const;

/** Deliberately narrower than RFC 5322: what a hospital account looks like, and it maps to an env var name. */
export const SEED_USER_EMAIL = /^[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
/** E.164: '+', country code, number; digits only, so uniqueness in auth.users compares one spelling. */
export const SEED_USER_PHONE = /^\+[1-9][0-9]{7,14}$/;
// Control characters would let a name break out of its line in the generated script.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const E164_HINT = "an E.164 phone number: '+', country code and number, digits only, e.g. +5511912345678";
/** Kubernetes Secret keys and env var names: at most 253 characters. */
const MAX_ENV_NAME = 253;

/** Name of the env var (and Secret key) that carries a seeded user's password, e.g. ASKY_USER_PASSWORD_ADMIN_ASKY_LOCAL. */
export function userPasswordEnv(email: string): string {
    if (typeof email !== "string" || !SEED_USER_EMAIL.test(email)) {
        throw new Error(`seed user email ${JSON.stringify(email)} is not a valid address`);
    }
    return `ASKY_USER_PASSWORD_${email.toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_+|_+$/g, "")}`;
}

export const seedUserSchema = z.strictObject({
    name: z
        .string()
        .max(255, { message: "must be at most 255 characters" })
        .refine((n) => n.trim() !== "" && !CONTROL_CHARACTERS.test(n), { message: "must be 1-255 printable characters, not only spaces" }),
    email: z
        .string()
        .max(254, { message: "must be at most 254 characters" })
        .regex(SEED_USER_EMAIL, { message: "must be an e-mail address of letters, digits and . _ % + - (e.g. ana.souza@hospital.com.br)" })
        .refine((e) => !SEED_USER_EMAIL.test(e) || userPasswordEnv(e).length <= MAX_ENV_NAME, { message: `is too long for its password variable name (${MAX_ENV_NAME} characters)` }),
    /** Required: the services' response models declare phone_number a string, and NULL makes login fail. */
    phoneNumber: z
        .string({ error: (issue) => (issue.input === undefined ? `is required: ${E164_HINT}` : `must be a string: ${E164_HINT}`) })
        .regex(SEED_USER_PHONE, { message: `must be ${E164_HINT}` }),
    role: z.enum(USER_ROLES),
});

export type SeedUser = z.output<typeof seedUserSchema>;

/** The list: at least one user, and no two sharing an e-mail, a password variable or a phone number (auth.users is unique on both). */
export const seedUsersSchema = z
    .array(seedUserSchema)
    .min(1, { message: "must seed at least one user" })
    .superRefine((users, ctx) => {
        const seen = { email: new Map<string, number>(), env: new Map<string, number>(), phone: new Map<string, number>() };
        users.forEach((u, i) => {
            // Users that failed their own checks are reported by them.
            if (typeof u?.email !== "string" || !SEED_USER_EMAIL.test(u.email) || typeof u.phoneNumber !== "string") return;
            const clash = (kind: keyof typeof seen, key: string, field: "email" | "phoneNumber", message: (j: number) => string) => {
                const j = seen[kind].get(key);
                if (j === undefined) seen[kind].set(key, i);
                else ctx.addIssue({ code: "custom", path: [i, field], input: u[field], message: message(j) });
                return j !== undefined;
            };
            if (!clash("email", u.email.toLowerCase(), "email", (j) => `seeded twice (also users[${j}], e-mails compare case-insensitively)`)) {
                clash("env", userPasswordEnv(u.email), "email", (j) => `maps to the same password variable ${userPasswordEnv(u.email)} as users[${j}]: change one of the two`);
            }
            clash("phone", u.phoneNumber, "phoneNumber", (j) => `already the number of users[${j}]; auth.users.phone_number is unique`);
        });
    });
