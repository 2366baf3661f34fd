"""The job proxy's client of Ray's Job Submission REST API (`pirun_ray.rest`).

Against a fake dashboard, it must send what Ray's own JobSubmissionClient sends for
the same calls (that half skips where Ray is not installed); its websocket reader
is tried against aiohttp's server, which is what Ray's dashboard runs. The real
cluster tests (`test_ray_cluster.py`) use it end to end."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pirun_ray
import pytest
from pirun_ray import rest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pirun.errors import BackendError

JOB = {
    "type": "SUBMISSION", "job_id": None, "submission_id": "pirun-issue-9-abc",
    "driver_info": None, "status": "FAILED", "entrypoint": "python job.py job.json",
    "message": "Job entrypoint command failed with exit code 3", "error_type": None,
    "start_time": 1, "end_time": 2, "metadata": {"pirun_issue": "9"}, "runtime_env": None,
    "driver_agent_http_address": None, "driver_node_id": "n1", "driver_exit_code": 3,
}


class FakeDashboard:
    """Answers the Job Submission API as Ray's dashboard does, and keeps every
    request: (method, path, query, body)."""

    def __init__(self, server: HTTPServer) -> None:
        self.requests: list[tuple[str, str, dict[str, list[str]], bytes]] = []
        self.packages: dict[str, bytes] = {}
        server.expect_request("").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        path, method, body = request.path, request.method, request.get_data()
        self.requests.append((method, path, request.args.to_dict(flat=False), body))
        if path == "/api/version":
            return self.json({"version": "4", "ray_version": "2.60.0", "ray_commit": "x",
                              "session_name": "s"})
        if path.startswith("/api/packages/gcs/"):
            name = path.rsplit("/", 1)[1]
            if method == "PUT":
                self.packages[name] = body
                return Response(status=200)
            return Response(status=200 if name in self.packages else 404)
        if path == "/api/jobs/" and method == "POST":
            submission_id = json.loads(body).get("submission_id") or "raysubmit_1"
            return self.json({"job_id": submission_id, "submission_id": submission_id})
        if path == f"/api/jobs/{JOB['submission_id']}":
            return self.json(JOB)
        if path.endswith("/logs"):
            return self.json({"logs": "line 1\nline 2\n"})
        if path.endswith("/stop"):
            return self.json({"stopped": True})
        if path == "/api/v0/nodes":
            node = {"node_id": "n1", "node_ip": "10.0.0.2", "is_head_node": False,
                    "state": "DEAD", "state_message": "unexpected termination",
                    "node_name": "10.0.0.2", "resources_total": {}, "labels": {}}
            return self.json({"result": True, "msg": "", "data": {"result": {
                "total": 1, "num_after_truncation": 1, "num_filtered": 1, "result": [node],
                "partial_failure_warning": "", "warnings": None}}})
        return Response("not found", status=404)

    @staticmethod
    def json(data: Any) -> Response:
        return Response(json.dumps(data), status=200, content_type="application/json")

    def calls(self) -> list[tuple[str, str, Any]]:
        """The requests made, version checks left out, the package's name (a hash of
        Ray's or pirun's choosing) replaced by PKG and the zip by its files."""
        calls = []
        names = {name: "PKG" for name in self.packages}
        for method, path, query, body in self.requests:
            if path == "/api/version":
                continue
            for name, placeholder in names.items():
                path = path.replace(name, placeholder)
            content: Any = body
            if method == "PUT":
                with zipfile.ZipFile(io.BytesIO(body)) as archive:
                    content = {n: archive.read(n).decode() for n in archive.namelist()}
            elif body.startswith(b"{"):
                data = json.loads(body)
                uri = data.get("runtime_env", {}).get("working_dir", "")
                if uri.startswith("gcs://_ray_pkg_") and uri.endswith(".zip"):
                    data["runtime_env"]["working_dir"] = "gcs://PKG"
                content = data
            calls.append((method, path, query, content))
        return calls


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "job"
    directory.mkdir()
    (directory / "job.py").write_text("print('job')\n")
    (directory / "job.json").write_text('{"issue": 9}')
    (directory / "prompt.md").write_text("# Issue 9 ✓\n")
    return directory


def use(client: Any, job_dir: Path) -> list[Any]:
    """The calls the job proxy makes, and what they returned."""
    job_id = client.submit_job(
        entrypoint="python job.py job.json", submission_id=JOB["submission_id"],
        runtime_env={"working_dir": str(job_dir)}, metadata={"pirun_issue": "9"},
        entrypoint_num_cpus=1.0, entrypoint_resources={"pirun_agent": 1.0})
    info = client.get_job_info(job_id)
    return [job_id, str(client.get_job_status(job_id)), str(info.status), info.message,
            info.driver_exit_code, info.driver_node_id, client.get_job_logs(job_id),
            client.stop_job(job_id)]


def test_the_rest_client_sends_what_rays_own_client_sends(
    httpserver: HTTPServer, job_dir: Path
) -> None:
    job_submission = pytest.importorskip("ray.job_submission")
    ray_side = FakeDashboard(httpserver)
    ray_results = use(job_submission.JobSubmissionClient(httpserver.url_for("")), job_dir)
    httpserver.clear()
    ours = FakeDashboard(httpserver)

    our_results = use(rest.JobClient(httpserver.url_for("")), job_dir)

    assert our_results == ray_results
    assert ours.calls() == ray_side.calls()
    # The package was uploaded once (GET said Ray did not have it), holding the files.
    assert [c[:2] for c in ours.calls()][:3] == [
        ("GET", "/api/packages/gcs/PKG"), ("PUT", "/api/packages/gcs/PKG"), ("POST", "/api/jobs/")]
    assert ours.calls()[1][3] == {"job.py": "print('job')\n", "job.json": '{"issue": 9}',
                                  "prompt.md": "# Issue 9 ✓\n"}


def test_a_package_ray_has_is_not_uploaded_again(httpserver: HTTPServer, job_dir: Path) -> None:
    dashboard = FakeDashboard(httpserver)
    client = rest.JobClient(httpserver.url_for(""))
    client.submit_job(entrypoint="true", runtime_env={"working_dir": str(job_dir)})
    client.submit_job(entrypoint="true", runtime_env={"working_dir": str(job_dir)})
    puts = [r for r in dashboard.requests if r[0] == "PUT"]
    assert len(puts) == 1
    # Other content, another name.
    (job_dir / "job.json").write_text('{"issue": 10}')
    client.submit_job(entrypoint="true", runtime_env={"working_dir": str(job_dir)})
    assert len(dashboard.packages) == 2


def test_the_node_state_comes_from_the_state_api_as_ray_asks_for_it(
    httpserver: HTTPServer,
) -> None:
    state = pytest.importorskip("ray.util.state")
    dashboard = FakeDashboard(httpserver)
    assert state.get_node("n1", address=httpserver.url_for(""), timeout=10).state == "DEAD"
    ray_query = dashboard.requests[-1][:3]

    assert rest.JobClient(httpserver.url_for("")).get_node_state("n1") == "DEAD"

    assert dashboard.requests[-1][:3] == ray_query


def test_errors_read_like_rays(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/jobs/", method="POST").respond_with_data(
        "Traceback ...\nValueError: bad runtime_env", status=400)
    httpserver.expect_request("/api/version").respond_with_data("no", status=401)
    client = rest.JobClient(httpserver.url_for(""))

    with pytest.raises(rest.ApiError, match=r"^Request failed with status code 400: Traceback"):
        client.submit_job(entrypoint="true")
    with pytest.raises(rest.ApiError, match="token authentication"):
        client.check()


@pytest.mark.parametrize(("env", "header"), [
    ({}, None),
    ({"RAY_AUTH_TOKEN": "abc"}, None),
    ({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": " abc\n", "RAY_AUTH_TOKEN_PATH": "FILE"},
     "Bearer abc"),
    ({"RAY_AUTH_MODE": "TOKEN", "RAY_AUTH_TOKEN_PATH": "FILE"}, "Bearer from-file"),
    ({"RAY_AUTH_MODE": "token"}, "Bearer from-home"),
])
def test_token_authentication_finds_the_token_where_ray_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], header: str | None
) -> None:
    (tmp_path / "file").write_text("from-file\n")
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("from-home")
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {k: v.replace("FILE", str(tmp_path / "file")) for k, v in env.items()}
    expected = {"authorization": header} if header else {}
    assert rest.auth_headers(env) == expected


def test_addresses_resolve_without_ray_unless_ray_must_find_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert pirun_ray.resolve_address("http://head:8265/") == "http://head:8265"
    assert pirun_ray.resolve_address("head:8265") == "http://head:8265"
    monkeypatch.setenv("RAY_ADDRESS", "http://from-ray-address:8265")
    assert pirun_ray.resolve_address("auto") == "http://from-ray-address:8265"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "https://api:443")
    assert pirun_ray.resolve_address("auto") == "https://api:443"
    # An explicit address wins over the environment.
    assert pirun_ray.resolve_address("http://head:8265") == "http://head:8265"


def test_auto_without_a_cluster_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    # Ray's lookup failing, without the half minute Ray spends looking.
    monkeypatch.setitem(sys.modules, "ray.dashboard.utils", None)
    pirun_ray._ask_ray_for_address.cache_clear()
    with pytest.raises(BackendError) as failure:
        pirun_ray.resolve_address("auto")
    message = str(failure.value)
    assert message.startswith("no Ray cluster found (ray.address: auto): start one with")
    assert "\n" not in message


# -- the log stream --------------------------------------------------------------------


class WebSocketServer:
    """aiohttp (the server Ray's dashboard runs) on a thread, playing a script of
    what to send on /api/jobs/ID/logs/tail."""

    def __init__(self, script: list[tuple[str, Any]]) -> None:
        self.script = script
        self.authorization: str | None = None
        self.pongs: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.sockets: set[Any] = set()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    async def _tail(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        self.authorization = request.headers.get("authorization")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.sockets.add(ws)
        for action, value in self.script:
            if action == "text":
                await ws.send_str(value)
            elif action == "fragmented":
                # One message in two frames (text, then continuation), as a proxy
                # may send it; aiohttp itself never splits one.
                data = value.encode()
                request.transport.write(bytes([0x01, 3]) + data[:3])
                request.transport.write(bytes([0x80, len(data) - 3]) + data[3:])
            elif action == "ping":
                await ws.ping(value)
                message = await ws.receive()
                assert message.type == WSMsgType.PONG
                self.pongs.append(message.data)
            elif action == "cut":
                request.transport.close()
                return ws
        await ws.close()
        return ws

    async def _close_sockets(self, app: Any) -> None:
        # A websocket a test left open would keep its handler waiting past the
        # shutdown's timeout.
        from aiohttp import WSCloseCode

        for ws in list(self.sockets):
            if not ws.closed:
                await ws.close(code=WSCloseCode.GOING_AWAY)

    def _run(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/api/jobs/{job}/logs/tail", self._tail)
        app.on_shutdown.append(self._close_sockets)
        runner = web.AppRunner(app, shutdown_timeout=5.0)
        try:
            self.loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            self.ready.set()
            self.loop.run_forever()
        finally:
            # Everything ends in this loop before it closes: the listening socket,
            # the connections and their handlers (a request handler's coroutine
            # left pending fails later, in another test, at "Event loop is closed").
            self.loop.run_until_complete(runner.cleanup())
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            asyncio.set_event_loop(None)

    def __enter__(self) -> WebSocketServer:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        assert not self.thread.is_alive(), "the websocket server did not shut down"


@pytest.fixture
def websocket_server() -> Iterator[Any]:
    pytest.importorskip("aiohttp")
    servers: list[WebSocketServer] = []

    def start(script: list[tuple[str, Any]]) -> WebSocketServer:
        server = WebSocketServer(script).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


async def tail(port: int) -> list[str]:
    client = rest.JobClient(f"http://127.0.0.1:{port}")
    return [chunk async for chunk in client.tail_job_logs("pirun-issue-9-abc")]


def test_the_log_stream_yields_messages_answers_pings_and_ends_at_close(
    websocket_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "sekrit")
    long = "x" * 70000 + "\n"
    server = websocket_server([("text", "one\n"), ("ping", b"are you there"),
                               ("fragmented", "two ✓ three\n"), ("text", long)])

    assert asyncio.run(tail(server.port)) == ["one\n", "two ✓ three\n", long]
    assert server.pongs == [b"are you there"]
    assert server.authorization == "Bearer sekrit"


def test_a_log_stream_cut_without_closing_is_an_error(websocket_server: Any) -> None:
    server = websocket_server([("text", "one\n"), ("cut", None)])
    with pytest.raises(ConnectionError, match="ended without closing"):
        asyncio.run(tail(server.port))


def test_a_refused_log_stream_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/jobs/x/logs/tail").respond_with_data("no job", status=404)
    client = rest.JobClient(httpserver.url_for(""))

    async def read() -> list[str]:
        return [chunk async for chunk in client.tail_job_logs("x")]

    with pytest.raises(rest.ApiError, match=r"refused: HTTP/1\.[01] 404"):
        asyncio.run(read())
