"""Ray's Job Submission REST API, spoken by the job proxy with httpx.

A job proxy runs on the machine running the batch for every running agent. Ray's
own `JobSubmissionClient` imports Ray, which made each proxy a process of about
90 MB; this module speaks the same HTTP API that client does (Ray's
`ray/dashboard/modules/job/sdk.py` and `dashboard_sdk.py`) with httpx and the
standard library, for about a third of that. What it does, as the SDK does:

- `submit_job`: a local `working_dir` is zipped (files at the top of the archive,
  stored, as Ray's `create_package`), named `gcs://_ray_pkg_<content hash>.zip`,
  uploaded with `PUT /api/packages/gcs/NAME` unless `GET` of that path says Ray has
  it, and replaced by its URI; then `POST /api/jobs/` with the submit request,
  keys that are None left out.
- `GET /api/jobs/ID` (status, message, exit code, node), `GET /api/jobs/ID/logs`,
  `POST /api/jobs/ID/stop`, and the node's state from the state API
  (`GET /api/v0/nodes`, filtered by id, as `ray.util.state.get_node`).
- `tail_job_logs`: the websocket `GET /api/jobs/ID/logs/tail`, read by a small
  RFC 6455 client (text messages, ping, close; nothing is compressed since no
  extension is offered). A stream that ends without a close frame is an error, as
  the SDK's abnormal closure is.
- Token authentication: with `RAY_AUTH_MODE=token`, every request carries
  `authorization: Bearer TOKEN`, the token from `RAY_AUTH_TOKEN`, else the file
  `RAY_AUTH_TOKEN_PATH`, else `~/.ray/auth_token` (Ray's own order).

Addresses are the dashboard's HTTP URL (`pirun_ray.resolve_address` turns `auto`
into one before the proxy starts).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import ssl
import zipfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

#: Ray's JobStatus values that do not change any more.
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
#: Seconds for a request (Ray's SDK waits forever; the proxy treats a timeout as
#: one failed contact and keeps trying).
TIMEOUT = 30.0
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class ApiError(Exception):
    """The Ray dashboard answered, but not with what was asked for."""


@dataclass(frozen=True)
class JobInfo:
    """The parts of Ray's JobDetails the proxy reads."""

    status: str
    message: str | None = None
    driver_exit_code: int | None = None
    driver_node_id: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobInfo:
        return cls(str(data.get("status")), data.get("message"), data.get("driver_exit_code"),
                   data.get("driver_node_id"))


def auth_headers(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The header Ray's clients send under token authentication, else none."""
    if environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return {}
    token = environ.get("RAY_AUTH_TOKEN", "").strip()
    if not token:
        path = environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            token = ""
    return {"authorization": f"Bearer {token}"} if token else {}


def working_dir_package(directory: Path) -> tuple[str, bytes]:
    """A flat directory as Ray packages a working_dir: a zip of its files at the
    archive's top (stored, not compressed), and a URI naming its content."""
    files = sorted(path for path in directory.iterdir() if path.is_file())
    digest = hashlib.sha1()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in files:
            data = path.read_bytes()
            digest.update(len(path.name).to_bytes(8, "big") + path.name.encode())
            digest.update(len(data).to_bytes(8, "big") + data)
            archive.writestr(path.name, data)
    return f"gcs://_ray_pkg_{digest.hexdigest()}.zip", buffer.getvalue()


def _failed(response: httpx.Response) -> ApiError:
    # The SDK's words, so a failure reads the same whichever client met it.
    return ApiError(f"Request failed with status code {response.status_code}: "
                    f"{response.text}.")


class JobClient:
    """The calls of Ray's JobSubmissionClient the job proxy makes, over HTTP."""

    def __init__(self, address: str, timeout: float = TIMEOUT) -> None:
        self.address = address.rstrip("/")
        self.headers = auth_headers()
        self.timeout = timeout
        self.http = httpx.Client(base_url=self.address, headers=self.headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code in (401, 403):
            raise ApiError(
                f"the Ray cluster refused the request ({response.status_code}): it uses "
                "token authentication; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN "
                "(or ~/.ray/auth_token) where pirun runs")
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise _failed(response)
        return response.json()

    def check(self) -> str:
        """Ray's version, or an error if the dashboard does not answer as Ray's."""
        return str(self._json("GET", "/api/version").get("ray_version", ""))

    def _upload_working_dir(self, directory: Path) -> str:
        uri, package = working_dir_package(directory)
        path = "/api/packages/gcs/" + uri.removeprefix("gcs://")
        exists = self._request("GET", path)
        if exists.status_code == 404:
            uploaded = self._request("PUT", path, content=package)
            if uploaded.status_code != 200:
                raise _failed(uploaded)
        elif exists.status_code != 200:
            raise _failed(exists)
        return uri

    def submit_job(self, *, entrypoint: str, submission_id: str | None = None,
                   runtime_env: dict[str, Any] | None = None,
                   metadata: dict[str, str] | None = None,
                   entrypoint_num_cpus: float | None = None,
                   entrypoint_num_gpus: float | None = None,
                   entrypoint_memory: int | None = None,
                   entrypoint_resources: dict[str, float] | None = None) -> str:
        runtime_env = dict(runtime_env or {})
        working_dir = runtime_env.get("working_dir")
        if working_dir and "://" not in working_dir:
            runtime_env["working_dir"] = self._upload_working_dir(Path(working_dir))
        request = {
            "entrypoint": entrypoint, "submission_id": submission_id,
            "runtime_env": runtime_env, "metadata": metadata or {},
            "entrypoint_num_cpus": entrypoint_num_cpus,
            "entrypoint_num_gpus": entrypoint_num_gpus,
            "entrypoint_memory": entrypoint_memory,
            "entrypoint_resources": entrypoint_resources,
        }
        body = {key: value for key, value in request.items() if value is not None}
        return str(self._json("POST", "/api/jobs/", json=body)["submission_id"])

    def get_job_info(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(self._json("GET", f"/api/jobs/{quote(job_id)}"))

    def get_job_status(self, job_id: str) -> str:
        return self.get_job_info(job_id).status

    def get_job_logs(self, job_id: str) -> str:
        return str(self._json("GET", f"/api/jobs/{quote(job_id)}/logs")["logs"])

    def stop_job(self, job_id: str) -> bool:
        return bool(self._json("POST", f"/api/jobs/{quote(job_id)}/stop").get("stopped"))

    def get_node_state(self, node_id: str) -> str | None:
        """ALIVE, DEAD, ...; None if the cluster does not know the node."""
        # Ray's GetApiOptions(timeout=10) sends 80 % of it for the server's own work.
        params = {"timeout": 8, "server_timeout_multiplier": 0.8, "filter_keys": "node_id",
                  "filter_predicates": "=", "filter_values": node_id, "detail": "True"}
        reply = self._json("GET", "/api/v0/nodes", params=params)
        if reply.get("result") is False:
            raise ApiError(f"the state API failed: {reply.get('msg')}")
        nodes = reply["data"]["result"]["result"]
        return str(nodes[0].get("state")) if nodes else None

    async def tail_job_logs(self, job_id: str) -> AsyncIterator[str]:
        """The job's log as it grows, until the job is over."""
        url = f"{self.address}/api/jobs/{quote(job_id)}/logs/tail"
        stream = await LogStream.open(url, self.headers, self.timeout)
        try:
            async for message in stream.messages():
                yield message
        finally:
            stream.close()


class LogStream:
    """The client side of a websocket, for reading a server's text messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str, headers: dict[str, str], timeout: float) -> LogStream:
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        host = parts.hostname or "localhost"
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            host, parts.port or (443 if secure else 80),
            ssl=ssl.create_default_context() if secure else None), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}",
                   "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                   "Sec-WebSocket-Version: 13", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(request) + "\r\n\r\n").encode("latin-1"))
        stream = cls(reader, writer)
        try:
            await writer.drain()
            status = (await asyncio.wait_for(reader.readline(), timeout)).decode("latin-1")
            answer: dict[str, str] = {}
            while (line := await asyncio.wait_for(reader.readline(), timeout)).strip():
                name, _, value = line.decode("latin-1").partition(":")
                answer[name.strip().lower()] = value.strip()
            if status.split()[1:2] != ["101"]:
                raise ApiError(f"the log stream was refused: {status.strip()}")
            accept = base64.b64encode(
                hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()
            if answer.get("sec-websocket-accept") != accept:
                raise ApiError("the log stream's handshake is not a websocket's")
        except BaseException:
            stream.close()
            raise
        return stream

    def close(self) -> None:
        self.writer.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        # Control frames only (under 126 bytes); a client masks what it sends.
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    async def messages(self) -> AsyncIterator[str]:
        fragments: list[bytes] = []
        read = self.reader.readexactly
        try:
            while True:
                head = await read(2)
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if length >= 126:
                    length = int.from_bytes(await read(2 if length == 126 else 8), "big")
                mask = await read(4) if head[1] & 0x80 else b""
                payload = await read(length)
                if mask:
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                if opcode == _CLOSE:
                    self._send(_CLOSE, payload[:2])
                    return
                if opcode == _PING:
                    self._send(_PONG, payload[:125])
                elif opcode in (_TEXT, _BINARY, _CONTINUATION):
                    fragments.append(payload)
                    if head[0] & 0x80:
                        yield b"".join(fragments).decode("utf-8", "replace")
                        fragments = []
        except asyncio.IncompleteReadError:
            raise ConnectionError("the log stream ended without closing") from None
