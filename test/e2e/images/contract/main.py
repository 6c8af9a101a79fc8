"""A stand-in for the team's auth, pyxis and request-management images in the real-node e2e.

It keeps their contract with the platform (ARCHITECTURE.md): the same port and path prefix, the
same files read at start from /app, DATABASE_URL in SQLAlchemy's asyncpg form, Redis at host
`redis`, request-management calling pyxis and auth through GATEWAY_URL with the service token.
Which service it is comes from ASKY_CONTRACT_SERVICE (set in the image). Like the real services it
is started as `python main.py` in /app and fails at start when a file it reads or its database is
missing. Each service reports what it could do on `<prefix>/contract`, so the e2e can assert the
wiring through the gateway. It never prints a secret.
"""
import asyncio
import json
import os
import sys
import time
import urllib.parse

import asyncpg
import bcrypt
import jwt
import redis.asyncio as aioredis
from aiohttp import ClientSession, ClientTimeout, web

SERVICE = os.environ["ASKY_CONTRACT_SERVICE"]
PORT = {"auth": 8003, "pyxis": 8001, "request-management": 8002}[SERVICE]
PREFIX = {"auth": "/auth", "pyxis": "/pyxis", "request-management": "/requests"}[SERVICE]
OWN_SCHEMA = {"auth": "auth", "pyxis": "pyxis", "request-management": "requests"}[SERVICE]
# One table per schema: the service must read its own and be refused the others (SEC-3).
PROBE_TABLES = {"auth": "auth.users", "pyxis": "pyxis.dispenser", "requests": "requests.medicine_requests"}
USES_REDIS = SERVICE in ("pyxis", "request-management")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def database_dsn():
    url = os.environ["DATABASE_URL"]
    scheme, rest = url.split("://", 1)
    if scheme != "postgresql+asyncpg":
        sys.exit(f"DATABASE_URL must be SQLAlchemy's postgresql+asyncpg:// form, not {scheme}://")
    return "postgresql://" + rest


def bearer(request):
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


class Service:
    def __init__(self):
        # The files the real images read at start, relative to /app.
        if SERVICE == "auth":
            self.private_key = read("services/private_key.pem")
        else:
            self.public_key = read("public_key.pem")
        if SERVICE == "request-management":
            self.service_token = json.loads(read("services/token.json"))["token"]
        self.gateway_url = os.environ.get("GATEWAY_URL", "")
        self.pool = None
        self.redis = aioredis.Redis(host="redis", port=6379, socket_timeout=2, socket_connect_timeout=2) if USES_REDIS else None

    async def start(self, app):
        # The real services run create_all at start: no database, no service.
        self.pool = await asyncpg.create_pool(database_dsn(), min_size=1, max_size=8, timeout=10, command_timeout=10)

    async def stop(self, app):
        if self.pool:
            await self.pool.close()

    # --- tokens -------------------------------------------------------------------------------
    def verify(self, token):
        """Claims of an RS256 token signed by the stack's private key, as pyxis/request-management check them."""
        return jwt.decode(token, self.public_key, algorithms=["RS256"])

    def caller(self, request, admin=False):
        token = bearer(request)
        if token is None:
            raise web.HTTPUnauthorized(text=json.dumps({"detail": "Not authenticated"}), content_type="application/json")
        try:
            claims = self.verify(token)
        except jwt.PyJWTError as e:
            raise web.HTTPUnauthorized(text=json.dumps({"detail": f"invalid token: {type(e).__name__}"}), content_type="application/json")
        if admin and claims.get("role") != "admin":
            raise web.HTTPForbidden(text=json.dumps({"detail": "admin only"}), content_type="application/json")
        return claims

    # --- the contract report ---------------------------------------------------------------------
    async def database_report(self):
        report = {"connected": False}
        async with self.pool.acquire() as conn:
            report["connected"] = True
            report["user"] = await conn.fetchval("SELECT current_user")
            report["tables"] = {}
            for schema, table in PROBE_TABLES.items():
                try:
                    n = await conn.fetchval(f"SELECT count(*) FROM {table}")
                    report["tables"][table] = {"readable": True, "rows": n}
                except asyncpg.exceptions.InsufficientPrivilegeError:
                    report["tables"][table] = {"readable": False}
            try:
                async with conn.transaction():
                    await conn.execute("CREATE TABLE public.asky_contract_probe (id int)")
                    raise RuntimeError("created")  # never keep it
            except asyncpg.exceptions.InsufficientPrivilegeError:
                report["canCreateInPublic"] = False
            except RuntimeError:
                report["canCreateInPublic"] = True
        own = report["tables"][PROBE_TABLES[OWN_SCHEMA]]["readable"]
        others = [t for s, t in PROBE_TABLES.items() if s != OWN_SCHEMA]
        report["ok"] = own and not any(report["tables"][t]["readable"] for t in others) and not report["canCreateInPublic"]
        return report

    async def redis_report(self):
        key = f"asky-contract:{SERVICE}"
        value = str(time.time())
        await self.redis.set(key, value, ex=60)
        return {"ok": (await self.redis.get(key)).decode() == value}

    def key_report(self):
        if SERVICE == "auth":
            token = jwt.encode({"sub": "contract", "exp": int(time.time()) + 60}, self.private_key, algorithm="RS256")
            return {"ok": True, "file": "/app/services/private_key.pem", "signs": token.count(".") == 2}
        return {"ok": True, "file": "/app/public_key.pem"}

    async def call(self, path, token):
        async with ClientSession(timeout=ClientTimeout(total=10)) as s:
            async with s.get(self.gateway_url + path, headers={"Authorization": f"Bearer {token}"}) as r:
                body = await r.text()
                try:
                    body = json.loads(body)
                except ValueError:
                    pass
                return {"status": r.status, "body": body}

    async def contract(self, request):
        checks = {}
        for name, check in [("database", self.database_report), ("redis", self.redis_report if USES_REDIS else None)]:
            if check is None:
                continue
            try:
                checks[name] = await check()
            except Exception as e:  # report, never crash: the e2e reads the reason
                checks[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        checks["key"] = self.key_report()
        if SERVICE != "auth":
            token = bearer(request)
            if token is not None:
                try:
                    claims = self.verify(token)
                    checks["caller"] = {"ok": True, "sub": claims.get("sub"), "role": claims.get("role")}
                except jwt.PyJWTError as e:
                    checks["caller"] = {"ok": False, "error": type(e).__name__}
        if SERVICE == "request-management":
            try:
                claims = self.verify(self.service_token)
                checks["serviceToken"] = {"ok": claims.get("sub") == "pyxis_service" and claims.get("role") == "admin",
                                          "sub": claims.get("sub"), "role": claims.get("role"), "exp": claims.get("exp")}
            except jwt.PyJWTError as e:
                checks["serviceToken"] = {"ok": False, "error": type(e).__name__}
            for name, path in [("viaGatewayPyxis", "/pyxis/contract"), ("viaGatewayAuth", "/auth/contract")]:
                try:
                    answer = await self.call(path, self.service_token)
                    body = answer["body"]
                    ok = answer["status"] == 200 and isinstance(body, dict) and body.get("ok") is True
                    if name == "viaGatewayPyxis":
                        ok = ok and body["checks"].get("caller", {}).get("sub") == "pyxis_service"
                    checks[name] = {"ok": ok, **answer}
                except Exception as e:
                    checks[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        ok = all(c.get("ok") for c in checks.values())
        return web.json_response({"service": SERVICE, "ok": ok, "checks": checks}, status=200 if ok else 500)

    # --- a few real routes (the e2e's reads and writes) ----------------------------------------
    async def login(self, request):
        body = await request.json()
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT password_hash, role FROM auth.users WHERE email = $1", body.get("email", ""))
        if row is None or not bcrypt.checkpw(str(body.get("password", "")).encode(), row["password_hash"].encode()):
            return web.json_response({"detail": "Incorrect email or password"}, status=401)
        token = jwt.encode({"sub": body["email"], "role": row["role"], "exp": int(time.time()) + 3600}, self.private_key, algorithm="RS256")
        return web.json_response({"access_token": token, "token_type": "bearer"})

    async def user(self, request):
        # Service to service only: pyxis/request-management check tokens; auth trusts the gateway's internal listener.
        email = urllib.parse.unquote(request.match_info["email"])
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT name, phone_number, email, role FROM auth.users WHERE email = $1", email)
        if row is None:
            return web.json_response({"detail": "User not found"}, status=404)
        return web.json_response(dict(row))

    async def dispensers(self, request):
        """The dispensers, cached in Redis for 5 s like a catalogue read; without Redis, from the database."""
        self.caller(request)
        cache = "bypass"
        try:
            body = await self.redis.get("asky:pyxis:dispensers")
            cache = "hit" if body else "miss"
        except Exception:
            body = None
        if body is None:
            async with self.pool.acquire() as conn:
                rows = await conn.fetch("SELECT id, code, floor FROM pyxis.dispenser ORDER BY id")
            body = json.dumps([dict(r) for r in rows]).encode()
            if cache == "miss":
                try:
                    await self.redis.set("asky:pyxis:dispensers", body, ex=5)
                except Exception:
                    cache = "bypass"
        return web.Response(body=body, content_type="application/json", headers={"X-Cache": cache})

    async def create_medicine_request(self, request):
        claims = self.caller(request)
        body = await request.json()
        async with self.pool.acquire() as conn:
            new_id = await conn.fetchval(
                "INSERT INTO requests.medicine_requests (dispenser_id, medicine_id, requested_by, emergency, batch_number) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                int(body["dispenser_id"]), int(body["medicine_id"]), int(body.get("requested_by", 0)),
                bool(body.get("emergency", False)), str(body.get("batch_number", claims.get("sub", ""))))
        return web.json_response({"id": new_id}, status=201)

    async def heartbeat(self, request):
        return web.json_response({"status": "ok"})


async def not_found(request):
    return web.json_response({"detail": "Not Found"}, status=404)


def main():
    service = Service()
    app = web.Application()
    app.on_startup.append(service.start)
    app.on_cleanup.append(service.stop)
    app.router.add_get(f"{PREFIX}/contract", service.contract)
    if SERVICE == "auth":
        app.router.add_post("/auth/login", service.login)
        app.router.add_get("/auth/users/{email}", service.user)
    if SERVICE == "pyxis":
        app.router.add_get("/pyxis/dispensers", service.dispensers)
    if SERVICE == "request-management":
        app.router.add_get("/requests/heartbeat", service.heartbeat)
        app.router.add_post("/requests/medicine_requests", service.create_medicine_request)
    app.router.add_route("*", "/{tail:.*}", not_found)
    print(f"asky contract stand-in: {SERVICE} on :{PORT}", flush=True)
    web.run_app(app, host="0.0.0.0", port=PORT, access_log=None, print=None, shutdown_timeout=5)


if __name__ == "__main__":
    main()
