"""Which Jetson this is: board model, L4T release and JetPack release, read once from the host."""

import re
from typing import Dict, NamedTuple, Optional

NV_TEGRA_RELEASE = "/etc/nv_tegra_release"
DEVICE_TREE_MODEL = "/proc/device-tree/model"

#: L4T release -> JetPack release, only for pairs NVIDIA published; an L4T missing here leaves the
#: JetPack label empty rather than guessed.
JETPACK_FOR_L4T: Dict[str, str] = {
    "32.6.1": "4.6",
    "32.7.1": "4.6.1",
    "32.7.2": "4.6.2",
    "32.7.3": "4.6.3",
    "32.7.4": "4.6.4",
    "32.7.5": "4.6.5",
    "32.7.6": "4.6.6",
    "35.1.0": "5.0.2",
    "35.2.1": "5.1",
    "35.3.1": "5.1.1",
    "35.4.1": "5.1.2",
    "35.5.0": "5.1.3",
    "35.6.0": "5.1.4",
    "36.3.0": "6.0",
    "36.4.0": "6.1",
    "36.4.3": "6.2",
    "36.4.4": "6.2.1",
    "38.4.0": "7.1",
    "39.2.0": "7.2",
}

# "# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic, EABI: aarch64, DATE: ..."
_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)")


class BoardInfo(NamedTuple):
    model: str = ""
    l4t: str = ""
    jetpack: str = ""

    def facts(self) -> Dict[str, str]:
        """The known fields only, for the birth message."""
        return {key: value for key, value in self._asdict().items() if value}


def parse_nv_tegra_release(text: str) -> str:
    """The L4T release ('36.4.4') from /etc/nv_tegra_release, or '' when the text is not one."""
    match = _RELEASE.search(text)
    if not match:
        return ""
    major, revision = match.groups()
    parts = [major, *revision.split("."), "0", "0"]
    return ".".join(parts[:3])


def board_info(l4t: str, model: str) -> BoardInfo:
    return BoardInfo(model=model, l4t=l4t, jetpack=JETPACK_FOR_L4T.get(l4t, ""))


def read_board_info(release_path: str = NV_TEGRA_RELEASE, model_path: str = DEVICE_TREE_MODEL) -> BoardInfo:
    """What this host says about itself; fields it cannot tell stay empty."""
    release = _read(release_path)
    model = _read(model_path)
    return board_info(parse_nv_tegra_release(release) if release else "",
                      model.strip("\x00\n ") if model else "")


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None
