#!/usr/bin/env python3
"""LLM client throughput: visinstruct's ModelClient against peer engines, on a fake server.

One command starts the shared fake OpenAI-compatible server(s) (../shared/bench/ from the repo
root, or --shared DIR) on free ports and drives the same workload through visinstruct, the plain
openai SDK (baseline), bespokelabs-curator and distilabel. Every engine runs in a child process of
its own, so wall time and client CPU (user+sys, worker processes included) are its alone; the
server's /stats (reset before each engine) counts requests and 429s.

Scenarios:
  text    2,000 requests, 100 ms latency, 200 in flight (ideal: 200 / 0.1 s = 2,000 req/s)
  rl      a 6,000 requests/min server limit; visinstruct has no rpm configured and learns it
          from the x-ratelimit-* headers (provider "openai", so one request probes first)
  image   one distinct-text request per 1024x768 JPEG (a few distinct images, cycled)

Targets: text ≤ 0.5 ms client CPU/request, ≥ 80% of ideal, ≥ 4x curator's requests/s;
rl ≥ 95% of the limit with < 1% of requests answered 429; image ≥ 2x curator's requests/s.

Curator and distilabel run in the virtualenv made by bench/setup_peers.sh (--peers-python);
without it the run goes on with visinstruct and the baseline only.

    python bench/llm_throughput.py [--quick] [--rl-peers] [--json-out results.json]
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SHARED = REPO / ".." / "shared" / "bench"
DEFAULT_PEERS_PYTHON = HERE / ".peers-venv" / "bin" / "python"
MODEL = "fake-model"
MAX_TOKENS = 64


# ----------------------------------------------------------------------------- shared helpers
def load_peers(shared: Path):
    """The shared peers.py as a module (its workloads, CPU clock and child runner are reused)."""
    spec = importlib.util.spec_from_file_location("peers", shared / "peers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_shared(shared: Path) -> Path:
    shared = shared.resolve()
    missing = [f for f in ("fake_openai_server.py", "peers.py") if not (shared / f).is_file()]
    if missing:
        sys.exit(
            f"error: {', '.join(missing)} not found in {shared}.\n"
            "The benchmark uses the shared fake server and peer runner, expected in ../shared/bench/ "
            "from the repo root (shared/ cloned beside the repo); pass --shared DIR to point elsewhere."
        )
    return shared


def image_files(image_dir: str) -> list[str]:
    return sorted(str(p) for p in Path(image_dir).glob("*.jpg"))


def image_prompts(n: int, n_images: int) -> list[tuple[str, int]]:
    """(text, image index): every request differs by its text; images are cycled."""
    return [
        (
            f"Image {i % n_images}, item {i}: write one question about this picture and its answer. "
            f"Reply as JSON with keys question and answer.",
            i % n_images,
        )
        for i in range(n)
    ]


def own_cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def descendants_cpu() -> float:
    """CPU seconds of this process's live descendants (from /proc). Worker pools started through a
    forkserver are never reaped by this process, so RUSAGE_CHILDREN would not count them."""
    parent: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    me, total = os.getpid(), 0.0
    for pid in parent:
        p, seen = parent.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parent.get(p), seen + 1
        if p == me:
            total += times[pid]
    return total


# ----------------------------------------------------------------------------- children
def child_visinstruct(a) -> dict:
    import visinstruct.models.images  # noqa: F401  (imported now, outside the timed region)
    from visinstruct.models import ChatRequest, Endpoint, ModelClient, run_async

    peers = load_peers(Path(a.shared))
    provider = "openai" if a.scenario == "rl" else "vllm"  # "openai" probes the rate-limit headers
    ep = Endpoint(
        name="llm",
        model=a.model,
        base_url=a.base_url,
        api_key_env=None,
        provider=provider,
        max_in_flight=a.concurrency,
        max_retries=a.max_retries,
        image_max_side=1024,
    )
    if a.scenario == "image":
        paths = image_files(a.image_dir)
        work = image_prompts(a.n, len(paths))
    else:
        texts = peers.prompts(a.n)
    extra: dict = {}
    encoder = None
    if a.vi_encoder_workers >= 0:  # an explicit ImageEncoder (the client's default: a process pool)
        from visinstruct.models.images import ImageEncoder

        encoder = ImageEncoder(workers=a.vi_encoder_workers)

    async def go():
        if a.scenario == "image":
            reqs = [
                ChatRequest(
                    [
                        {
                            "role": "user",
                            "content": [{"type": "text", "text": t}, {"type": "image", "image": paths[k]}],
                        }
                    ],
                    endpoint="llm",
                    params={"max_tokens": MAX_TOKENS},
                )
                for t, k in work
            ]
        else:
            reqs = [
                ChatRequest(
                    [{"role": "user", "content": p}], endpoint="llm", params={"max_tokens": MAX_TOKENS}
                )
                for p in texts
            ]
        async with ModelClient([ep], cache=None, encoder=encoder) as c:
            outs = await c.run(reqs)
            extra["workers_cpu_s"] = descendants_cpu()  # before the client stops its image workers
            lim = c.limiters.get("llm")
            extra.update(
                sent=c.sent,
                client_429=lim.rate_limited if lim else None,
                learned_rpm=round(lim.requests.rate * 60, 1) if lim and lim.requests else None,
                encoder=dict(c.encoder.stats) if c.encoder is not None else None,
            )
            if encoder is not None:
                encoder.close()
            errors = [o.error for o in outs if not o.ok]
            extra["errors"] = len(errors)
            if errors:
                extra["first_error"] = errors[0]
        return sum(1 for o in outs if o.ok and o.text)

    prof = None
    if a.profile:  # CPU-time profile of the timed region only (worker processes are not in it)
        import cProfile

        prof = cProfile.Profile(time.process_time)
        prof.enable()
    t0, c0 = time.perf_counter(), own_cpu()
    rows_ok = run_async(go())
    t1, c1 = time.perf_counter(), own_cpu()
    if prof is not None:
        prof.disable()
        prof.dump_stats(a.profile)
    return {
        "rows_ok": rows_ok,
        "work_wall_s": t1 - t0,
        "work_cpu_s": c1 - c0 + extra["workers_cpu_s"],
        "extra": extra,
    }


def data_urls(paths: list[str]) -> list[str]:
    """Each distinct image read and base64-encoded once, as a user of the plain SDK would."""
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append("data:image/jpeg;base64," + base64.b64encode(f.read()).decode("ascii"))
    return out


def child_baseline_image(a) -> dict:
    peers = load_peers(Path(a.shared))
    ns = argparse.Namespace(
        base_url=a.base_url, concurrency=a.concurrency, max_retries=a.max_retries, model=a.model
    )
    run = peers.prep_baseline(ns)  # sends messages=[{"role": "user", "content": p}] for each p
    paths = image_files(a.image_dir)
    work = image_prompts(a.n, len(paths))
    t0, c0 = time.perf_counter(), own_cpu()
    urls = data_urls(paths)
    contents = [
        [{"type": "text", "text": t}, {"type": "image_url", "image_url": {"url": urls[k]}}] for t, k in work
    ]
    rows_ok = run(contents)
    t1, c1 = time.perf_counter(), own_cpu()
    return {"rows_ok": rows_ok, "work_wall_s": t1 - t0, "work_cpu_s": c1 - c0}


def child_curator_image(a) -> dict:
    from bespokelabs import curator

    paths = image_files(a.image_dir)
    work = image_prompts(a.n, len(paths))
    t0, c0 = time.perf_counter(), own_cpu()
    if a.curator_image_mode == "native":  # curator's own multimodal input: it reads and encodes

        class Gen(curator.LLM):
            def prompt(self, row):
                return row["text"], curator.types.Image(url=paths[row["k"]], detail="auto")

            def parse(self, row, response):
                return {"i": row["i"], "response": response}
    else:  # an OpenAI message list whose image_url part carries the data URL
        urls = data_urls(paths)

        class Gen(curator.LLM):
            def prompt(self, row):
                return [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": row["text"]},
                            {"type": "image_url", "image_url": {"url": urls[row["k"]]}},
                        ],
                    }
                ]

            def parse(self, row, response):
                return {"i": row["i"], "response": response}

    backend_params = {
        "base_url": a.base_url,
        "api_key": "sk-fake",
        "max_retries": a.max_retries,
        "request_timeout": 120,
        "max_concurrent_requests": a.concurrency,
        "require_all_responses": False,
        "max_requests_per_minute": 10_000_000,
        "max_tokens_per_minute": 10_000_000_000,
    }
    llm = Gen(
        model_name=a.model,
        backend="openai",
        generation_params={"max_tokens": MAX_TOKENS},
        backend_params=backend_params,
    )
    ds = llm([{"i": i, "k": k, "text": t} for i, (t, k) in enumerate(work)])
    ds = getattr(ds, "dataset", ds)
    rows_ok = sum(1 for r in ds["response"] if r)
    t1, c1 = time.perf_counter(), own_cpu()
    return {"rows_ok": rows_ok, "work_wall_s": t1 - t0, "work_cpu_s": c1 - c0}


CHILDREN = {
    "visinstruct": child_visinstruct,
    "baseline-image": child_baseline_image,
    "curator-image": child_curator_image,
}


def child_main(a) -> None:
    res = CHILDREN[a.child](a)
    with open(a.result_file, "w") as f:
        json.dump(res, f)


# ----------------------------------------------------------------------------- driver
class Server:
    """One fake server subprocess on a free port."""

    def __init__(self, shared: Path, latency_ms: float, rpm: float = 0.0, log_dir: str = "") -> None:
        cmd = [
            sys.executable,
            str(shared / "fake_openai_server.py"),
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ]
        if rpm:
            cmd += ["--rpm", str(rpm)]
        self.log = open(  # noqa: SIM115 - open for the server's lifetime, closed in stop()
            os.path.join(log_dir, f"server-{int(latency_ms)}ms-{int(rpm)}rpm.log"), "w"
        )
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING"):
            self.stop()
            sys.exit(
                f"error: the fake server did not start ({line.strip() or 'no output'}); see {self.log.name}"
            )
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def peer_env(peers, python: str, tmp: str, name: str) -> dict:
    """The environment peers.py gives its children (offline tiktoken, no telemetry, fresh caches)."""
    return dict(
        os.environ,
        OPENAI_API_KEY="sk-fake",
        TELEMETRY_ENABLED="false",
        CURATOR_DISABLE_CACHE="1",
        CURATOR_CACHE_DIR=os.path.join(tmp, f"curator-{name}"),
        CURATOR_DISABLE_RICH_DISPLAY="1",
        DISTILABEL_CACHE_DIR=os.path.join(tmp, f"distilabel-{name}"),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        TIKTOKEN_CACHE_DIR=peers.tiktoken_cache_dir(python),
        HF_DATASETS_CACHE=os.path.join(tmp, "hf"),
        HF_HUB_OFFLINE="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )


def run_child(
    a, peers, name: str, kind: str, scenario: str, python: str, server: Server, n: int, tmp: str
) -> dict:
    """Runs one child of this file (visinstruct, or an image peer) the way peers.run_peer runs its own."""
    result_file = os.path.join(tmp, f"{scenario}-{name}.json")
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--shared",
        str(a.shared),
        "--scenario",
        scenario,
        "--base-url",
        server.base_url,
        "--n",
        str(n),
        "--concurrency",
        str(a.concurrency),
        "--result-file",
        result_file,
        "--image-dir",
        a.image_dir,
        "--model",
        MODEL,
        "--max-retries",
        str(a.max_retries),
        "--curator-image-mode",
        a.curator_image_mode,
        "--vi-encoder-workers",
        str(a.vi_encoder_workers),
    ]
    if a.profile and kind == "visinstruct":
        prof = os.path.join(a.log_dir, f"{scenario}-visinstruct.prof")
        cmd += ["--profile-file", prof]
        print(f"  (cProfile of the visinstruct child: {prof})", flush=True)
    peers.http(server.base_url, "/stats/reset", "POST")
    log = open(os.path.join(a.log_dir, f"{scenario}-{name}.log"), "w")  # noqa: SIM115 - closed below
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=peer_env(peers, python, tmp, name),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > a.timeout:  # bounded in time: kill our own child's group only
            os.killpg(proc.pid, 9)
            _, status, ru = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    log.close()
    time.sleep(0.2)
    stats = peers.http(server.base_url, "/stats")
    res = {}
    if os.path.exists(result_file):
        with open(result_file) as f:
            res = json.load(f)
    row = {
        "peer": name,
        "label": scenario,
        "python": python,
        "n": n,
        "concurrency": a.concurrency,
        "rc": os.waitstatus_to_exitcode(status),
        "total_wall_s": round(wall, 2),
        "total_cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "work_wall_s": round(res.get("work_wall_s", float("nan")), 3),
        "work_cpu_s": round(res.get("work_cpu_s", float("nan")), 3),
        "rows_ok": res.get("rows_ok"),
        "server": stats,
        "extra": res.get("extra"),
    }
    row["req_per_s"] = round(res["rows_ok"] / res["work_wall_s"], 1) if res else None
    row["cpu_ms_per_req"] = round(1000 * res["work_cpu_s"] / n, 3) if res else None
    return row


def run_peer(
    a, peers, name: str, scenario: str, python: str, server: Server, n: int, tmp: str, curator_limits: int = 0
) -> dict:
    """A text peer through peers.run_peer (its own child process, --python selectable)."""
    ns = argparse.Namespace(
        base_url=server.base_url,
        n=n,
        concurrency=a.concurrency,
        model=MODEL,
        max_retries=a.max_retries,
        distilabel_replicas=1,
        curator_rpm=curator_limits,
        curator_tpm=curator_limits,
        python=python,
        timeout=a.timeout,
        label=scenario,
        log_dir=a.log_dir,
    )
    return peers.run_peer(ns, name, tmp)


def make_images(directory: str, count: int) -> list[tuple[str, int]]:
    """`count` distinct 1024x768 JPEGs: a colour gradient, blurred shapes and sensor-like noise,
    about 150 KB each at quality 85."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = 1024, 768
    out = []
    for k in range(count):
        rng = random.Random(k)
        c0, c1 = [rng.randrange(256) for _ in range(3)], [rng.randrange(256) for _ in range(3)]
        grad = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((w, h))
        img = Image.merge(
            "RGB",
            [
                grad.point(lambda v, lo=lo, hi=hi: lo + (hi - lo) * v // 255)
                for lo, hi in zip(c0, c1, strict=True)
            ],
        )
        draw = ImageDraw.Draw(img)
        for _ in range(25):
            x0, y0 = rng.randrange(w), rng.randrange(h)
            box = (x0, y0, x0 + rng.randrange(40, 400), y0 + rng.randrange(40, 300))
            fill = tuple(rng.randrange(256) for _ in range(3))
            shape = rng.choice(("rectangle", "ellipse", "line"))
            if shape == "line":
                draw.line(box, fill=fill, width=rng.randrange(2, 12))
            else:
                getattr(draw, shape)(box, fill=fill)
        img = img.filter(ImageFilter.GaussianBlur(1.2))
        noise = Image.effect_noise((w, h), 22)
        img = Image.merge("RGB", [Image.blend(ch, noise, 0.25) for ch in img.split()])
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        path = os.path.join(directory, f"img{k:02d}.jpg")
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        out.append((path, len(buf.getvalue())))
    return out


def fmt(v, spec: str = "") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return format(v, spec)


def print_table(title: str, rows: list[dict], ideal: float | None, ideal_name: str) -> None:
    vi = next((r for r in rows if r["peer"] == "visinstruct"), None)
    vi_rps = vi and vi["req_per_s"]
    vi_cpu = vi and vi["cpu_ms_per_req"]
    print(f"\n== {title}")
    print(
        f"{'peer':<15}{'wall s':>8}{'req/s':>9}{ideal_name:>9}{'cpu ms/req':>12}{'vi speedup':>12}"
        f"{'cpu x vi':>10}{'rows ok':>9}{'srv reqs':>10}{'srv 429':>9}{'429 %':>8}{'conns':>7}"
    )
    for r in rows:
        s = r.get("server") or {}
        rps, cpu = r["req_per_s"], r["cpu_ms_per_req"]
        speed = vi_rps / rps if vi_rps and rps else None
        cpux = cpu / vi_cpu if vi_cpu and cpu else None
        pct = 100 * rps / ideal if ideal and rps else None
        p429 = 100 * s.get("rate_limited", 0) / s["requests"] if s.get("requests") else None
        rc = f"  rc={r['rc']}" if r.get("rc") else ""
        print(
            f"{r['peer']:<15}{fmt(r['work_wall_s'], '.2f'):>8}{fmt(rps, '.1f'):>9}{fmt(pct, '.1f'):>9}"
            f"{fmt(cpu, '.3f'):>12}{fmt(speed, '.2f'):>12}{fmt(cpux, '.1f'):>10}{fmt(r['rows_ok']):>9}"
            f"{fmt(s.get('requests')):>10}{fmt(s.get('rate_limited')):>9}{fmt(p429, '.2f'):>8}"
            f"{fmt(s.get('connections')):>7}{rc}"
        )
    print(
        "  (vi speedup = visinstruct req/s / peer req/s; cpu x vi = peer CPU per request / visinstruct's)",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="folder with fake_openai_server.py and peers.py (default: ../shared/bench from the repo)",
    )
    ap.add_argument(
        "--peers-python",
        default=str(DEFAULT_PEERS_PYTHON),
        help="interpreter with curator and distilabel (bench/setup_peers.sh makes it)",
    )
    ap.add_argument("--scenarios", default="text,rl,image")
    ap.add_argument("--peers", default="baseline,curator,distilabel", help="peers for the text scenario")
    ap.add_argument("--image-peers", default="baseline,curator")
    ap.add_argument("--rl-peers", action="store_true", help="also run the peers on the rate-limit scenario")
    ap.add_argument("--quick", action="store_true", help="a smaller run (about a minute)")
    ap.add_argument("--text-n", type=int, default=None, help="requests in the text scenario (2000)")
    ap.add_argument("--rl-n", type=int, default=None, help="requests in the rate-limit scenario (2000)")
    ap.add_argument("--image-n", type=int, default=None, help="requests in the image scenario (500)")
    ap.add_argument("--images", type=int, default=8, help="distinct JPEGs, cycled over the requests")
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--latency-ms", type=float, default=100.0)
    ap.add_argument("--rpm", type=float, default=6000.0, help="server limit in the rate-limit scenario")
    ap.add_argument("--max-retries", type=int, default=6)
    ap.add_argument(
        "--curator-image-mode",
        choices=("messages", "native"),
        default="native",
        help="curator's image input: OpenAI messages with a data URL, or curator.types.Image",
    )
    ap.add_argument(
        "--vi-encoder-workers",
        type=int,
        default=-1,
        help="visinstruct ImageEncoder(workers=N); 0 = threads; default: the client's own pool",
    )
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per engine before it is killed")
    ap.add_argument("--log-dir", default=os.path.join(tempfile.gettempdir(), "visinstruct-llm-bench"))
    ap.add_argument("--profile", action="store_true", help="cProfile the visinstruct children (to --log-dir)")
    ap.add_argument("--json-out", default=None, help="write every row and the target summary as JSON")
    # child mode (internal)
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--scenario", help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result-file", help=argparse.SUPPRESS)
    ap.add_argument("--image-dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--model", default=MODEL, help=argparse.SUPPRESS)
    ap.add_argument("--profile-file", dest="profile_file", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.profile = a.profile_file
        return child_main(a)
    a.shared = check_shared(a.shared)
    peers = load_peers(a.shared)
    os.makedirs(a.log_dir, exist_ok=True)
    text_n = a.text_n or (500 if a.quick else 2000)
    rl_n = a.rl_n or (300 if a.quick else 2000)
    image_n = a.image_n or (200 if a.quick else 500)
    scenarios = a.scenarios.split(",")
    have_venv = os.path.exists(a.peers_python)
    main_py = sys.executable
    if not have_venv:
        print(
            f"note: no peer virtualenv at {a.peers_python}: running visinstruct and the baseline only.\n"
            f"      To compare with curator and distilabel, create it with:  bash bench/setup_peers.sh"
        )
    text_peers = [p for p in a.peers.split(",") if p and (have_venv or p.startswith("baseline"))]
    image_peers = [p for p in a.image_peers.split(",") if p and (have_venv or p == "baseline")]
    ideal = a.concurrency / (a.latency_ms / 1000.0)
    limit = a.rpm / 60.0
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; shared: {a.shared}")
    print(f"peer python: {a.peers_python if have_venv else '(none)'}; baseline python: {main_py}")
    print(f"logs: {a.log_dir}", flush=True)

    results: dict[str, list[dict]] = {}
    servers: list[Server] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llm-bench-") as tmp:
        a.image_dir = os.path.join(tmp, "images")
        os.makedirs(a.image_dir)
        try:
            plain = Server(a.shared, a.latency_ms, log_dir=a.log_dir)
            servers.append(plain)

            def peer_python(name: str) -> str:
                return main_py if name.startswith("baseline") else a.peers_python

            if "text" in scenarios:
                print(
                    f"\n-- text: {text_n} requests, {a.latency_ms:g} ms latency, {a.concurrency} in flight "
                    f"(ideal {ideal:g} req/s) on port {plain.port}",
                    flush=True,
                )
                rows = [
                    run_child(a, peers, "visinstruct", "visinstruct", "text", main_py, plain, text_n, tmp)
                ]
                for p in text_peers:
                    print(f"   {p} ...", flush=True)
                    rows.append(run_peer(a, peers, p, "text", peer_python(p), plain, text_n, tmp))
                results["text"] = rows
                print_table(f"text: {text_n} requests", rows, ideal, "%ideal")
                vi = rows[0]
                if vi["req_per_s"]:
                    print(
                        f"  ideal {ideal:g} req/s; visinstruct {vi['req_per_s']:.1f} req/s = "
                        f"{100 * vi['req_per_s'] / ideal:.1f}% of ideal",
                        flush=True,
                    )

            if "rl" in scenarios:
                limited = Server(a.shared, a.latency_ms, rpm=a.rpm, log_dir=a.log_dir)
                servers.append(limited)
                print(
                    f"\n-- rate limit: {rl_n} requests, server limit {a.rpm:g} requests/min ({limit:g}/s), "
                    f"visinstruct with no rpm configured (provider openai: learns from headers) "
                    f"on port {limited.port}",
                    flush=True,
                )
                rows = [run_child(a, peers, "visinstruct", "visinstruct", "rl", main_py, limited, rl_n, tmp)]
                if a.rl_peers:
                    for p in text_peers:
                        print(f"   {p} ...", flush=True)
                        time.sleep(1.0)  # let the server's bucket fill again, as it did for visinstruct
                        rows.append(
                            run_peer(a, peers, p, "rl", peer_python(p), limited, rl_n, tmp, curator_limits=-1)
                        )  # curator too reads the headers
                results["rl"] = rows
                print_table(f"rate limit: {rl_n} requests at {a.rpm:g}/min", rows, limit, "%limit")
                vi = rows[0]
                ex = vi.get("extra") or {}
                print(
                    f"  visinstruct learned rpm {ex.get('learned_rpm')} (limit {a.rpm:g}); "
                    f"sent {ex.get('sent')} requests, {ex.get('client_429')} answered 429",
                    flush=True,
                )
                # the server's token bucket starts full (1 s deep): the first rpm/60 requests pass at once
                best = rl_n / (max(0, rl_n - limit) / limit + a.latency_ms / 1000.0)
                if vi["req_per_s"]:
                    print(
                        f"  share of the limit {100 * vi['req_per_s'] / limit:.1f}%; with the server's "
                        f"1-s burst {rl_n} requests can go at most {best:.1f} req/s, and visinstruct reached "
                        f"{100 * vi['req_per_s'] / best:.1f}% of that",
                        flush=True,
                    )

            if "image" in scenarios:
                made = make_images(a.image_dir, a.images)
                sizes = ", ".join(f"{s // 1024}" for _, s in made)
                print(
                    f"\n-- image: {image_n} requests, one 1024x768 JPEG each ({len(made)} distinct, "
                    f"KB: {sizes}), {a.latency_ms:g} ms latency, {a.concurrency} in flight; curator input: "
                    f"{a.curator_image_mode}",
                    flush=True,
                )
                rows = [
                    run_child(a, peers, "visinstruct", "visinstruct", "image", main_py, plain, image_n, tmp)
                ]
                for p in image_peers:
                    if p not in ("baseline", "curator"):
                        print(f"   {p}: no image workload for it here, skipped")
                        continue
                    print(f"   {p} ...", flush=True)
                    rows.append(
                        run_child(a, peers, p, f"{p}-image", "image", peer_python(p), plain, image_n, tmp)
                    )
                results["image"] = rows
                print_table(f"image: {image_n} requests", rows, ideal, "%ideal")
        finally:
            for s in servers:
                s.stop()

    targets = summarize(results, ideal, limit)
    print(f"\n== targets (total run {time.perf_counter() - t_start:.0f} s)")
    if a.quick or text_n < 2000 or rl_n < 1000:
        print(
            "  (small run: start-up weighs more, so shares of ideal and limit read low or high; the targets "
            "are set for the default sizes)"
        )
    for t in targets:
        print(f"  {t['status']:<5} {t['name']:<46} {t['measured']:<28} target {t['target']}")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(
                {
                    "results": results,
                    "targets": targets,
                    "ideal_req_per_s": ideal,
                    "limit_req_per_s": limit,
                    "quick": a.quick,
                },
                f,
                indent=2,
            )
        print(f"wrote {a.json_out}")


def summarize(results: dict[str, list[dict]], ideal: float, limit: float) -> list[dict]:
    out = []

    def add(name: str, value, target: str, ok, measured: str) -> None:
        status = "SKIP" if value is None else ("PASS" if ok else "MISS")
        out.append({"name": name, "value": value, "target": target, "status": status, "measured": measured})

    def row(scenario: str, peer: str) -> dict | None:
        r = next((r for r in results.get(scenario, []) if r["peer"] == peer), None)
        return r if r and r.get("req_per_s") else None

    def speedup(scenario: str, peer: str, need: float, label: str) -> None:
        vi, other = row(scenario, "visinstruct"), row(scenario, peer)
        v = vi["req_per_s"] / other["req_per_s"] if vi and other else None
        add(
            label,
            v,
            f">= {need:g}x",
            v is not None and v >= need,
            f"{v:.2f}x ({vi['req_per_s']:.0f} vs {other['req_per_s']:.0f} req/s)" if v else "not run",
        )

    if "text" in results:
        vi = row("text", "visinstruct")
        cpu = vi and vi["cpu_ms_per_req"]
        add(
            "text: client CPU per request",
            cpu,
            "<= 0.5 ms",
            cpu is not None and cpu <= 0.5,
            f"{cpu:.3f} ms" if cpu is not None else "failed",
        )
        share = vi and vi["req_per_s"] / ideal
        add(
            "text: share of ideal (in flight / latency)",
            share,
            ">= 80%",
            share is not None and share >= 0.8,
            f"{100 * share:.1f}% ({vi['req_per_s']:.0f} req/s)" if share else "failed",
        )
        speedup("text", "curator", 4, "text: requests/s vs curator")
    if "rl" in results:
        vi = row("rl", "visinstruct")
        share = vi and vi["req_per_s"] / limit
        add(
            "rate limit: share of the limit",
            share,
            ">= 95%",
            share is not None and share >= 0.95,
            f"{100 * share:.1f}% ({vi['req_per_s']:.1f} req/s)" if share else "failed",
        )
        s = vi and vi["server"]
        p429 = s["rate_limited"] / s["requests"] if s and s.get("requests") else None
        add(
            "rate limit: requests answered 429",
            p429,
            "< 1%",
            p429 is not None and p429 < 0.01,
            f"{100 * p429:.2f}% ({s['rate_limited']} of {s['requests']})" if p429 is not None else "failed",
        )
    if "image" in results:
        speedup("image", "curator", 2, "image: requests/s vs curator")
    return out


if __name__ == "__main__":
    main()
