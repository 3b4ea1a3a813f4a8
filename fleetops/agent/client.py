"""HTTP(S) to the centre with the agent's token (requests). Any failure to reach the centre, or an answer that
says "try again" (5xx, 429), is `CentreDown`; a refused token is `Unauthorized`; any other refusal `Refused`."""
import requests


class CentreDown(Exception):
    pass


class Unauthorized(Exception):
    pass


class Refused(Exception):
    def __init__(self, status: int, error: str):
        super().__init__(f"{status}: {error}")
        self.status, self.error = status, error


class Centre:
    def __init__(self, server: str, token: str, timeout_s: float = 30.0, verify=True):
        self.base = server.rstrip("/")
        self.timeout = timeout_s
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.verify = verify
        self.http.trust_env = False  # no proxy from the environment between an agent and its centre

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw):
        try:
            resp = self.http.request(method, self.base + path, timeout=self.timeout, **kw)
        except requests.RequestException as err:
            raise CentreDown(type(err).__name__) from None
        if resp.status_code == 401:
            raise Unauthorized()
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise CentreDown(str(resp.status_code))
        if resp.status_code >= 400 and resp.status_code != 422:
            try:
                error = resp.json().get("error", "")
            except ValueError:
                error = ""
            raise Refused(resp.status_code, str(error)[:300])
        return resp

    def config(self, etag: str | None):
        """(config, etag) — config None when unchanged since `etag`."""
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        resp = self._call("GET", "/api/v1/agent/config", headers=headers)
        if resp.status_code == 304:
            return None, etag
        body = resp.json()
        return body, body.get("version")

    def push(self, batch_id: str, results: list[dict], health: dict) -> dict:
        resp = self._call("POST", "/api/v1/probe-results",
                          json={"batch_id": batch_id, "agent": health, "results": results})
        return resp.json()
