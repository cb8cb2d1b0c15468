"""Java and Maven, which the local Kafka broker needs; installed here when we may, explained when not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEBIAN_PACKAGES = {"java": "openjdk-17-jre-headless", "mvn": "maven"}


class PrerequisiteError(RuntimeError):
    """A tool the local stack needs is missing and could not be installed."""


def _can_apt_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None and Path("/etc/debian_version").exists()


def ensure_java_and_maven(log=print) -> None:
    """Install Java 17 and Maven with apt-get when running as root on Debian/Ubuntu; otherwise say how."""
    missing = [tool for tool in DEBIAN_PACKAGES if shutil.which(tool) is None]
    if not missing:
        return
    packages = [DEBIAN_PACKAGES[t] for t in missing]
    if not _can_apt_install():
        raise PrerequisiteError(
            f"missing {', '.join(missing)}: the local Kafka broker needs Java 17+ and Maven. "
            f"On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y {' '.join(packages)}"
        )
    log(f"installing {' '.join(packages)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True, env=env, stdout=subprocess.DEVNULL)
    still = [tool for tool in DEBIAN_PACKAGES if shutil.which(tool) is None]
    if still:
        raise PrerequisiteError(f"apt-get ran but {', '.join(still)} is still not on PATH")
