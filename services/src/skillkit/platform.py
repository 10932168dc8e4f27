"""Runs the whole platform locally as separate processes: the Tansu broker and one uvicorn per service.

`python -m skillkit.platform` is what `make run` starts (SQLite files under ./var, the bundled Tansu
broker); the end-to-end tests and the pipeline benchmark use the same code against PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from skillkit.tansu import TansuBroker


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    package: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    ServiceProcess("voucher-service", "voucher_service", 8001),
    ServiceProcess("training-service", "training_service", 8002),
    ServiceProcess("certification-service", "certification_service", 8003),
    ServiceProcess("subsidy-service", "subsidy_service", 8004),
)


# uvicorn believes X-Forwarded-For from 127.0.0.1 by default; the app decides from `trusted_proxies` instead.
UVICORN_FLAGS = ("--no-proxy-headers", "--no-access-log")


def uvicorn_command(package: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """How a service is served by `make run` and the end-to-end tests: the flags of the images and manifests."""
    return [sys.executable, "-m", "uvicorn", f"{package}.main:create", "--factory", "--host", host,
            "--port", str(port), *UVICORN_FLAGS]


class Platform:
    def __init__(
        self,
        database_urls: dict[str, str],
        *,
        kafka_bootstrap: str | None = None,
        services: tuple[ServiceProcess, ...] = SERVICES,
        port_offset: int = 0,
        extra_env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        broker_port: int | None = None,
    ) -> None:
        self.database_urls = database_urls
        self.services = tuple(ServiceProcess(s.name, s.package, s.port + port_offset) for s in services)
        self.broker = None if kafka_bootstrap else TansuBroker(broker_port)
        self.kafka_bootstrap = kafka_bootstrap or self.broker.bootstrap  # type: ignore[union-attr]
        self.extra_env = extra_env or {}
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def env_for(self, service: ServiceProcess) -> dict[str, str]:
        return {
            **os.environ,
            "SKILLS_DATABASE_URL": self.database_urls[service.name],
            "SKILLS_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            **self.extra_env,
        }

    def start(self) -> None:
        if self.broker is not None:
            self.broker.start()
        for service in self.services:
            env = self.env_for(service)
            subprocess.run([sys.executable, "-m", f"{service.package}.migrate", "upgrade"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            self.start_service(service)
        self.wait_healthy()

    def start_service(self, service: ServiceProcess) -> None:
        output = (self.log_dir / f"{service.name}.log").open("ab") if self.log_dir else subprocess.DEVNULL
        self.processes[service.name] = subprocess.Popen(
            uvicorn_command(service.package, service.port),
            env=self.env_for(service),
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def stop_service(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for service in self.services:
            while True:
                try:
                    with urllib.request.urlopen(f"{service.url}/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if self.processes[service.name].poll() is not None:
                    raise RuntimeError(f"{service.name} exited during start-up")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service.name} did not become healthy in {timeout} s")
                time.sleep(0.2)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_service(name)
        if self.broker is not None:
            self.broker.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


WECHAT_FAKE_PORT = 8009


class DevTool:
    """A development stand-in for an outside system, run as its own process (`python -m <module> <args>`)."""

    def __init__(self, name: str, args: list[str], log_dir: Path | None) -> None:
        self.name, self.args, self.log_dir = name, args, log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = (self.log_dir / f"{self.name}.log").open("ab") if self.log_dir else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", *self.args], stdout=output, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {timeout} s") from None
            time.sleep(0.2)


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value in (None, "") else value.lower() not in ("0", "false", "no", "off")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Lin County skills platform locally (development only)")
    parser.add_argument("--var", default="var", help="folder for the SQLite databases and logs")
    parser.add_argument("--seed", action="store_true", default=_flag("SEED", False),
                        help="seed reference data: institutions with a class running over today, an evaluation "
                             "centre, this year's policy table (make run SEED=1)")
    parser.add_argument("--no-province-simulator", dest="province", action="store_false",
                        default=_flag("PROVINCE", True),
                        help="do not start the province real-name simulator (make run PROVINCE=0); without its "
                             "verdicts (P1) no claim becomes payable")
    parser.add_argument("--port-offset", type=int, default=0, help="added to every port (tests run beside others)")
    args = parser.parse_args(argv)
    # read before any settings object: production settings with development secrets would not even construct
    if os.environ.get("SKILLS_ENVIRONMENT", "").strip().lower() == "production":
        sys.exit("make run is for development: refusing with SKILLS_ENVIRONMENT=production (the province simulator "
                 "and the fake WeChat are stand-ins)")
    var = Path(args.var).resolve()
    var.mkdir(parents=True, exist_ok=True)
    urls = {s.name: f"sqlite+aiosqlite:///{var / (s.package.split('_')[0] + '.db')}" for s in SERVICES}
    wechat_url = f"http://127.0.0.1:{WECHAT_FAKE_PORT + args.port_offset}"
    broker_port = int(os.environ.get("SKILLS_TANSU_PORT", "9092")) + args.port_offset
    platform = Platform(urls, kafka_bootstrap=os.environ.get("SKILLS_KAFKA_BOOTSTRAP"), log_dir=var,
                        broker_port=broker_port, port_offset=args.port_offset,
                        # development: the training service's clock may be moved to record a class's days in
                        # seconds (PUT /v1/clock; production refuses a movable clock)
                        extra_env={"SKILLS_WECHAT_API_BASE": wechat_url, "SKILLS_MOVABLE_CLOCK": "true"})
    tools = [DevTool("wechat-fake", ["voucher_service.wechat_fake", "--port", str(WECHAT_FAKE_PORT + args.port_offset)],
                     var)]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        tools[0].start()
        _wait_for(f"{wechat_url}/healthz")
        platform.start()
        if args.province:
            tools.append(DevTool("province-simulator", ["testsupport.province_simulator", "--bootstrap",
                                                        platform.kafka_bootstrap], var))
            tools[-1].start()
        print(f"Lin County skills platform is running (broker {platform.kafka_bootstrap}, logs in {var}):")
        for service in platform.services:
            print(f"  {service.name:<22} {service.url}/docs")
        print(f"  {'fake WeChat':<22} {wechat_url} (POST /dev/login?user=<name> plays wx.login())")
        print(f"  {'province simulator':<22} {'on (P1 verdicts)' if args.province else 'off (PROVINCE=0)'}")
        if args.seed:
            from skillkit.devseed import Urls, seed

            service_urls = {s.name: s.url for s in platform.services}
            seeded = seed(Urls(*(service_urls[s.name] for s in SERVICES)))
            for institution, klass in zip(seeded["institutions"], seeded["classes"]):
                print(f"  seeded {institution['name']} ({institution['township']}): {klass['name']}")
            print(f"  seeded {seeded['evaluation_centre']['name']} and the {seeded['policy_table']['policy_year']} "
                  "policy table")
        print("Press Ctrl-C to stop; `make reset` (stopped) empties ./var.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for tool in reversed(tools):
            tool.stop()
        platform.stop()


if __name__ == "__main__":
    main()
