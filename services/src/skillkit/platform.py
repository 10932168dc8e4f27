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


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Lin County skills platform locally")
    parser.add_argument("--var", default="var", help="folder for the SQLite databases and logs")
    args = parser.parse_args()
    var = Path(args.var).resolve()
    var.mkdir(parents=True, exist_ok=True)
    urls = {s.name: f"sqlite+aiosqlite:///{var / (s.package.split('_')[0] + '.db')}" for s in SERVICES}
    platform = Platform(urls, kafka_bootstrap=os.environ.get("SKILLS_KAFKA_BOOTSTRAP"), log_dir=var,
                        broker_port=int(os.environ.get("SKILLS_TANSU_PORT", "9092")))
    platform.start()
    print(f"Lin County skills platform is running (broker {platform.kafka_bootstrap}, logs in {var}):")
    for service in platform.services:
        print(f"  {service.name:<22} {service.url}/docs")
    print("Press Ctrl-C to stop.")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
