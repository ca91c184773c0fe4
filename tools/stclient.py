"""A minimal client of Streamlit's websocket protocol, for load tests: one object per browser tab.

It speaks what the browser speaks on ``/_stcore/stream``, with the protobuf messages that ship
with streamlit (``streamlit.proto``), and nothing of the browser's rendering:

- it connects with the ``streamlit`` subprotocol and sends a ``BackMsg.rerun_script`` whose
  ``ClientState`` carries the query string, the page (``page_name`` from the URL path on the first
  run, then ``page_script_hash`` from the navigation the server sent, as a click in the sidebar
  does), the widget values and the hashes of the messages it holds in its cache;
- a run is every ``ForwardMsg`` from its ``new_session`` to its ``script_finished``; an action
  waits for the first run that starts after it was sent and finishes (not one cut short for a rerun);
- widget values go back as ``WidgetState``\\ s under the element's ``id`` (which ends in the user key):
  a slider's as ``double_array_value``, a select slider's, multiselect's as ``string_array_value``
  of the shown labels, a radio's or selectbox's as ``string_value``, a button press as
  ``trigger_value``, a components-v2 element's state as ``json_value`` of the whole state with one
  field replaced (what the frontend's ``setStateValue`` sends);
- like the browser, it keeps the large messages the server marks ``cacheable`` and lists their
  hashes on the next rerun, so the server sends a ``ref_hash`` instead of resending them;
- ``auto_rerun`` messages (a fragment with ``run_every``) are kept; :meth:`Session.poll` sends
  the fragment reruns they ask for;
- a file upload goes the browser's way (:meth:`Session.upload`): a ``BackMsg.file_urls_request``
  for the file names, answered by a ``ForwardMsg.file_urls_response`` with one upload URL per file;
  an HTTP PUT of each file as multipart form data (field ``file``) to its URL, with the XSRF token
  of the ``_streamlit_xsrf`` cookie (from ``/_stcore/health``) in an ``X-Xsrftoken`` header when the
  server sets one; then a rerun with the uploader's ``FileUploaderState`` (name, size, file id and
  URLs of each file). Files the uploader held before are deleted (HTTP DELETE), as the browser does
  when a file is replaced.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ID_PREFIX = "$$ID"  # Streamlit's generated element ids: "$$ID-<hash>-<user key or None>"
WIDGETS = {"slider", "radio", "selectbox", "multiselect", "checkbox", "number_input", "text_input", "text_area",
           "button", "bidi_component", "button_group", "download_button", "file_uploader"}
ERROR = 1  # Alert.Format.ERROR
ALERT_FORMATS = {1: "error", 2: "warning", 3: "info", 4: "success"}  # Alert.Format
XSRF_COOKIE = "_streamlit_xsrf"
MAX_MESSAGE = 256 * 1024 * 1024


class StClientError(Exception):
    """The session broke: a disconnect, a timeout, or a widget the page does not have."""


@dataclass
class Run:
    """What one script run sent: its elements by delta path, and what went wrong in it."""

    status: int = -1
    fragment: bool = False
    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)  # st.exception deltas, compile errors
    errors: list[str] = field(default_factory=list)  # st.error alerts
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (error/warning/info/success/toast, text)
    bytes: int = 0  # bytes received during the run
    seconds: float = 0.0  # from the action's send to its script_finished

    @property
    def ok(self) -> bool:
        return not self.exceptions and not self.errors


@dataclass
class Widget:
    """A widget on the current page: its element type, its id and its element proto."""

    kind: str
    id: str
    proto: Any

    @property
    def options(self) -> list[str]:
        return list(getattr(self.proto, "options", []))


def user_key(element_id: str) -> str | None:
    """The user key inside a generated element id, or None (Streamlit's own rule)."""
    if not element_id.startswith(ID_PREFIX):
        return None
    key = element_id.split("-", maxsplit=2)[-1]
    return None if key == "None" else key


def widget_state(widget: Widget, value: Any) -> WidgetState:
    """The WidgetState the browser sends for ``value`` (a shown label for option widgets)."""
    state = WidgetState(id=widget.id)
    kind, proto = widget.kind, widget.proto
    if kind == "slider" and proto.options:  # a select slider: the labels of its stops
        state.string_array_value.data[:] = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
    elif kind == "slider":
        state.double_array_value.data[:] = [float(v) for v in (value if isinstance(value, list | tuple) else [value])]
    elif kind in ("radio", "selectbox", "text_input", "text_area"):
        state.string_value = str(value)
    elif kind == "multiselect":
        state.string_array_value.data[:] = [str(v) for v in value]
    elif kind == "checkbox":
        state.bool_value = bool(value)
    elif kind == "number_input":
        if proto.data_type == 0:  # INT
            state.int_value = int(value)
        else:
            state.double_value = float(value)
    elif kind == "button":
        state.trigger_value = True
    elif kind == "bidi_component":
        state.json_value = json.dumps(value)
    else:
        raise StClientError(f"setting a {kind} is not supported")
    return state


class Session:
    """One browser tab's worth of Streamlit session, over one websocket."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.xsrf: str | None = None  # the _streamlit_xsrf cookie, once an upload asked for it
        self.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/_stcore/stream"
        self.timeout = timeout
        self.session_id: str | None = None
        self.pages: dict[str, str] = {}  # url path -> page_script_hash, from the server's navigation
        self.page_hash = ""
        self.query_string = ""
        self.runs = 0  # runs started (new_session messages)
        self.received = 0  # bytes received in all
        self.last: Run | None = None  # the last finished full run
        self.elements: dict[tuple[int, ...], Element] = {}  # the page as the last runs left it
        self.widgets: dict[str, Widget] = {}  # by user key
        self.auto_reruns: dict[str, float] = {}  # fragment id -> interval (s)
        self._values: dict[str, WidgetState] = {}  # widget id -> what this tab last sent
        self._cache: dict[str, tuple[ForwardMsg, int]] = {}  # hash -> (message, run it was last used)
        self._max_age = 2
        self._run: Run | None = None
        self._waiter: tuple[int, asyncio.Future] | None = None
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._file_urls: dict[str, asyncio.Future] = {}  # request id -> the file_urls_response awaited
        self._uploaded: dict[str, list[FileURLs]] = {}  # uploader widget id -> the URLs of the files it holds
        self.closed: str | None = None  # why the socket closed, once it has

    # ---- connection ------------------------------------------------------------------------

    async def connect(self, path: str = "/", query: str = "") -> Run:
        """Open the socket and load ``path`` (as typing the URL does); returns the first run."""
        self._ws = await asyncio.wait_for(websockets.connect(
            self.ws_url, subprotocols=["streamlit"], origin=self.origin, max_size=MAX_MESSAGE,
            compression=None, open_timeout=self.timeout), self.timeout)
        self._reader = asyncio.create_task(self._read())
        self.query_string = query
        return await self._request(page_name=path.strip("/"))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    # ---- actions ---------------------------------------------------------------------------

    async def open(self, path: str, query: str = "") -> Run:
        """Go to another page as the sidebar does (by its script hash once the navigation is known)."""
        self.query_string = query
        page_hash = self.pages.get(path.strip("/"))
        if page_hash is None:
            return await self._request(page_name=path.strip("/"))
        return await self._request(page_hash=page_hash)

    async def set(self, key: str, value: Any) -> Run:
        """Give the widget with user key ``key`` a new value (a label for option widgets) and rerun."""
        widget = self.widget(key)
        self._values[widget.id] = widget_state(widget, value)
        return await self._request()

    async def click(self, key: str) -> Run:
        """Press a button: a trigger, sent once."""
        return await self._request(trigger=widget_state(self.widget(key), True))

    async def set_component(self, key: str, name: str, value: Any, default: dict | None = None) -> Run:
        """What a components-v2 element's ``setStateValue(name, value)`` sends: its whole state, one field replaced."""
        widget = self.widget(key)
        sent = self._values.get(widget.id)
        state = json.loads(sent.json_value) if sent is not None else dict(default or {})
        self._values[widget.id] = widget_state(widget, state | {name: value})
        return await self._request()

    async def upload(self, key: str, name: str, data: bytes) -> Run:
        """Put one file into the file uploader with user key ``key`` as the browser does, and rerun."""
        return await self.upload_files(key, [(name, data)])

    async def upload_files(self, key: str, files: list[tuple[str, bytes]]) -> Run:
        """Put ``files`` (name, content) into the uploader ``key`` in place of what it held: ask the
        server for upload URLs over the socket, PUT each file there, then rerun with the uploader's new
        value. The run's ``seconds`` count from the URL request to the run's end."""
        widget = self.widget(key)
        if widget.kind != "file_uploader":
            raise StClientError(f"{key!r} is a {widget.kind}, not a file uploader")
        tic = time.perf_counter()
        urls = await self._request_file_urls([name for name, _ in files])
        if self.xsrf is None:
            self.xsrf = await asyncio.to_thread(self._fetch_xsrf)
        for (name, content), target in zip(files, urls, strict=True):
            await asyncio.to_thread(self._http, "PUT", target.upload_url, _multipart(name, content))
        state = WidgetState(id=widget.id)
        state.file_uploader_state_value.uploaded_file_info.extend(
            UploadedFileInfo(name=name, size=len(content), file_id=target.file_id, file_urls=target)
            for (name, content), target in zip(files, urls, strict=True))
        self._values[widget.id] = state
        previous, self._uploaded[widget.id] = self._uploaded.get(widget.id, []), list(urls)
        run = await self._request()
        for old in previous:  # the browser deletes a file it no longer shows
            await asyncio.to_thread(self._http, "DELETE", old.delete_url, None)
        run.seconds = time.perf_counter() - tic
        return run

    async def poll(self) -> Run | None:
        """Send the reruns of the fragments that asked for ``auto_rerun`` (once each); None if none did."""
        run = None
        for fragment_id in list(self.auto_reruns):
            run = await self._request(fragment_id=fragment_id, auto=True)
        return run

    def widget(self, key: str) -> Widget:
        try:
            return self.widgets[key]
        except KeyError:
            raise StClientError(f"no widget with key {key!r} on this page; have {sorted(self.widgets)}") from None

    def sent(self, key: str) -> WidgetState | None:
        """The value this tab last sent for the widget with user key ``key`` (None: its default)."""
        return self._values.get(self.widget(key).id)

    def component_data(self, key: str) -> dict:
        """The JSON data the server sent to the components-v2 element with user key ``key``."""
        proto = self.widget(key).proto
        return json.loads(proto.json or (proto.mixed.json if proto.HasField("mixed") else "null") or "null")

    def texts(self) -> list[str]:
        """The markdown, captions, alerts and headings on the page, in delta-path order."""
        out = []
        for _, element in sorted(self.elements.items()):
            kind = element.WhichOneof("type")
            if kind in ("markdown", "heading", "text"):
                out.append(getattr(element, kind).body)
            elif kind == "alert":
                out.append(element.alert.body)
        return out

    # ---- sending and waiting ---------------------------------------------------------------

    async def _request_file_urls(self, names: list[str]) -> list[FileURLs]:
        if self.closed:
            raise StClientError(f"socket closed: {self.closed}")
        msg = BackMsg()
        request = msg.file_urls_request
        request.request_id = uuid.uuid4().hex
        request.file_names.extend(names)
        request.session_id = self.session_id or ""
        future = asyncio.get_running_loop().create_future()
        self._file_urls[request.request_id] = future
        await self._ws.send(msg.SerializeToString())
        try:
            response = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise StClientError(f"no upload URLs within {self.timeout:g} s") from None
        finally:
            self._file_urls.pop(request.request_id, None)
        if response.error_msg or len(response.file_urls) != len(names):
            raise StClientError(f"no upload URLs: {response.error_msg or len(response.file_urls)}")
        return list(response.file_urls)

    def _fetch_xsrf(self) -> str:
        """The XSRF cookie the server sets on ``/_stcore/health`` ("" when XSRF protection is off)."""
        with urllib.request.urlopen(f"{self.origin}/_stcore/health", timeout=self.timeout) as response:
            cookies = SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookies.load(header)
        return cookies[XSRF_COOKIE].value if XSRF_COOKIE in cookies else ""

    def _http(self, method: str, path: str, body: tuple[bytes, str] | None) -> None:
        """One upload-route request, with the XSRF cookie and header the frontend sends."""
        headers = {"Origin": self.origin}
        if self.xsrf:
            headers |= {"X-Xsrftoken": self.xsrf, "Cookie": f"{XSRF_COOKIE}={self.xsrf}"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = body
        url = path if "://" in path else self.origin + path
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            raise StClientError(f"{method} of an upload: HTTP {exc.code} {detail}") from None
        except OSError as exc:
            raise StClientError(f"{method} of an upload: {exc}") from None

    async def _request(self, page_name: str | None = None, page_hash: str | None = None,
                       fragment_id: str | None = None, auto: bool = False,
                       trigger: WidgetState | None = None) -> Run:
        if self.closed:
            raise StClientError(f"socket closed: {self.closed}")
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query_string
        if page_name is not None:  # a URL typed in: the server resolves it
            client.page_name = page_name
        else:
            client.page_script_hash = page_hash or self.page_hash
        if page_name is None and page_hash is None:  # a widget change on this page: every value this tab holds
            client.widget_states.widgets.extend(self._values.values())
            if trigger is not None:
                client.widget_states.widgets.append(trigger)
        if fragment_id:
            client.fragment_id = fragment_id
        client.is_auto_rerun = auto
        client.cached_message_hashes.extend(self._cache)
        future = asyncio.get_running_loop().create_future()
        self._waiter = (self.runs, future)
        tic = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        try:
            run = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise StClientError(f"no finished run within {self.timeout:g} s") from None
        finally:
            self._waiter = None
        run.seconds = time.perf_counter() - tic
        return run

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                self.received += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg, len(data))
            self.closed = "closed by the server"
        except websockets.ConnectionClosed as exc:
            self.closed = f"connection closed ({exc})"
        except Exception as exc:  # a malformed message: end the session, visibly
            self.closed = f"client error: {exc!r}"
        if self._waiter is not None and not self._waiter[1].done():
            self._waiter[1].set_exception(StClientError(self.closed))

    def _handle(self, msg: ForwardMsg, size: int) -> None:
        if msg.HasField("ref_hash"):
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                raise StClientError(f"the server referred to message {msg.ref_hash}, which this tab never had")
            self._cache[msg.ref_hash] = (cached[0], self.runs)
            msg = _with_metadata(cached[0], msg)
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = (msg, self.runs)
        if self._run is not None:
            self._run.bytes += size
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._start(msg)
        elif kind == "delta" and self._run is not None:
            self._delta(msg)
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.auto_reruns.clear()
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception") and self._run:
            self._run.exceptions.append(msg.session_event.script_compilation_exception.message)
        elif kind == "file_urls_response":
            waiter = self._file_urls.get(msg.file_urls_response.response_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(msg.file_urls_response)
        elif kind == "page_not_found" and self._run is not None:
            self._run.errors.append(f"page not found: {msg.page_not_found.page_name}")
        elif kind == "script_finished":
            self._finish(msg.script_finished)

    def _start(self, msg: ForwardMsg) -> None:
        session = msg.new_session
        self.session_id = session.initialize.session_id or self.session_id
        self.page_hash = session.page_script_hash or self.page_hash
        if session.config.max_cached_message_age:
            self._max_age = session.config.max_cached_message_age
        fragment = bool(msg.metadata.run.fragment_ids)
        if not fragment:
            self.auto_reruns.clear()  # the run registers its fragments' timers again
        self.runs += 1
        self._run = Run(fragment=fragment, elements=dict(self.elements) if fragment else {})

    def _delta(self, msg: ForwardMsg) -> None:
        path = tuple(msg.metadata.delta_path)
        if msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        self._run.elements[path] = element
        kind = element.WhichOneof("type")
        if kind == "exception":
            self._run.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "alert":
            self._run.alerts.append((ALERT_FORMATS.get(element.alert.format, "alert"), element.alert.body))
            if element.alert.format == ERROR:
                self._run.errors.append(element.alert.body)
        elif kind == "toast":
            self._run.alerts.append(("toast", element.toast.body))

    def _finish(self, status: int) -> None:
        run, self._run = self._run, None
        if run is None or status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return  # the run that replaces it is the one to wait for
        run.status = status
        self.elements = run.elements
        self._index_widgets()
        if not run.fragment:
            self.last = run
            self._expire_cache()
        if self._waiter is not None and self.runs > self._waiter[0] and not self._waiter[1].done():
            self._waiter[1].set_result(run)

    def _index_widgets(self) -> None:
        widgets = {}
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            if kind in WIDGETS:
                proto = getattr(element, kind)
                key = user_key(proto.id)
                if key is not None:
                    widgets[key] = Widget(kind, proto.id, proto)
        self.widgets = widgets
        live = {w.id for w in widgets.values()}  # the frontend drops the values of widgets no longer shown
        self._values = {wid: state for wid, state in self._values.items() if wid in live}

    def _expire_cache(self) -> None:
        """Forget messages unused for max_cached_message_age runs, as the frontend's cache does."""
        for key, (_, used) in list(self._cache.items()):
            if self.runs - used > self._max_age:
                del self._cache[key]


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    """A form with one file field, ``file``, as the browser's FormData sends it: (body, content type)."""
    boundary = f"----stclient{uuid.uuid4().hex}"
    filename = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A").encode()  # as Chromium does
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".encode() + filename
            + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n")
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _with_metadata(cached: ForwardMsg, ref: ForwardMsg) -> ForwardMsg:
    """The cached message, placed where the reference says (its delta path)."""
    msg = ForwardMsg()
    msg.CopyFrom(cached)
    msg.metadata.CopyFrom(ref.metadata)
    return msg
