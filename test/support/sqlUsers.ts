/** The seeded users and generated secrets the SQL specs (sql.spec.ts on a server, sqlRender.spec.ts without one) share. */
import { randomBytes } from "crypto";
import { DATABASE_LOGIN_ROLES, SeedUser, userPasswordEnv } from "../../sql/render";

export const BCRYPT_COST = 11;

export const USERS: SeedUser[] = [
    { name: "Administrador", email: "admin@asky.local", phoneNumber: "+5511990010001", role: "admin" },
    // Quotes, a backslash, a psql variable reference and non-ASCII must all arrive verbatim.
    { name: "Conceição O'Brien \\ :asky_database :'x' $$", email: "enfermeira.conceicao@asky.local", role: "nurse", phoneNumber: "+5511912345678" },
    { name: "Agente", email: "agent+1@asky.local", phoneNumber: "+5521987654321", role: "agent" },
];

/** A random secret with quotes, a backslash and a dollar sign, which must all arrive verbatim. */
export const secret = (): string => `${randomBytes(12).toString("base64url")}'"\\$x`;
export const rolePasswords: Record<string, string> = Object.fromEntries(
    DATABASE_LOGIN_ROLES.map(({ passwordEnv }) => [passwordEnv, secret()]),
);
export const userPasswords: Record<string, string> = Object.fromEntries(USERS.map((u) => [userPasswordEnv(u.email), secret()]));
/** Every secret the bootstrap reads with \getenv, as the Job's environment carries them. */
export const secretEnv = (): Record<string, string> => ({ ...rolePasswords, ...userPasswords });
