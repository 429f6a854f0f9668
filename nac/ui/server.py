"""The FastAPI app behind `nac ui`: one page, three JSON endpoints, generated files by id.

Binds to 127.0.0.1 by default; uploads are capped at `MAX_UPLOAD_MB`; every error reaches the
page as one line of JSON ({"error": ...}), never a stack trace.
"""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from . import actions

MAX_UPLOAD_MB = 50
KEEP_RESULTS = 16  # the newest results' files stay downloadable
MAX_WAITING = 4  # jobs queued behind the running one; more get a "busy" answer at once
PAGE = Path(__file__).with_name("page.html")
TYPES = {".wav": "audio/wav", ".png": "image/png", ".nac": "application/octet-stream"}


class UserFacingError(Exception):
    pass


class Busy(Exception):
    pass


class JobGate:
    """One codec job at a time (the models are not re-entrant and CPUs are few), at most
    `waiting` more queued; jobs run in a worker thread so the page and downloads stay served."""

    def __init__(self, waiting: int = MAX_WAITING):
        self.running = threading.Lock()
        self.slots = threading.BoundedSemaphore(1 + waiting)
        self.waiting = waiting

    async def run(self, fn, *args):
        if not self.slots.acquire(blocking=False):
            raise Busy(f"busy: a job is running and {self.waiting} are waiting; try again in a moment")
        try:
            return await run_in_threadpool(self._one_at_a_time, fn, *args)
        finally:
            self.slots.release()

    def _one_at_a_time(self, fn, *args):
        with self.running:
            return fn(*args)


def create_app() -> FastAPI:
    app = FastAPI(title="NAC", docs_url=None, redoc_url=None)
    results: OrderedDict[str, actions.Result] = OrderedDict()
    gate = JobGate()

    def publish(result: actions.Result) -> dict:
        rid = uuid.uuid4().hex[:12]
        results[rid] = result
        while len(results) > KEEP_RESULTS:
            results.popitem(last=False)
        return {"id": rid, **result.summary, "files": {n: f"/api/result/{rid}/{n}" for n in result.files}}

    async def read(upload: UploadFile | None, what: str, required: bool = True) -> bytes | None:
        if upload is None or not upload.filename:
            if required:
                raise UserFacingError(f"choose a {what} file first")
            return None
        limit = int(MAX_UPLOAD_MB * 2 ** 20)
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise UserFacingError(f"the {what} file is over the {MAX_UPLOAD_MB} MB upload limit")
        return data

    from ..container.bitstream import NacFormatError
    from ..io.audio import AudioError

    def one_line(exc: Exception) -> str:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    for known in (UserFacingError, AudioError, NacFormatError, ValueError):  # the user's input: 400
        app.add_exception_handler(known, lambda request, exc: JSONResponse({"error": one_line(exc)}, status_code=400))

    app.add_exception_handler(Busy, lambda request, exc: JSONResponse({"error": str(exc)}, status_code=503))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        return JSONResponse({"error": f"internal error ({type(exc).__name__}: {one_line(exc)})"}, status_code=500)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text()

    @app.post("/api/codec")
    async def codec(file: UploadFile | None = File(None), kbps: float = Form(6.0),
                    postfilter: bool = Form(False)) -> dict:
        data = await read(file, "audio")
        if kbps not in (1.5, 3.0, 6.0, 12.0):
            raise UserFacingError(f"bitrate {kbps:g} kbps: choose 1.5, 3, 6 or 12")
        return publish(await gate.run(actions.codec_compare, data, file.filename, kbps, None, postfilter))

    @app.post("/api/restore")
    async def restore(file: UploadFile | None = File(None), reference: UploadFile | None = File(None),
                      strength: float = Form(1.0)) -> dict:
        data = await read(file, "degraded")
        ref = await read(reference, "reference", required=False)
        return publish(await gate.run(actions.restore_upload, data, file.filename, ref,
                                      reference.filename if ref else "", strength))

    @app.post("/api/inspect")
    async def inspect(file: UploadFile | None = File(None)) -> dict:
        return publish(await gate.run(actions.inspect_nac, await read(file, ".nac")))

    @app.get("/api/result/{rid}/{name}")
    def result_file(rid: str, name: str) -> Response:
        result = results.get(rid)
        if result is None or name not in result.files:
            return JSONResponse({"error": "this result has expired; run it again"}, status_code=404)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'} if name.endswith(".nac") else {}
        return Response(result.files[name], media_type=TYPES.get(Path(name).suffix, "application/octet-stream"),
                        headers=headers)

    return app


def serve(host: str = "127.0.0.1", port: int = 7860) -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="warning")
