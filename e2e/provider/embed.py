"""Writes the two files the provider plugin embeds, from the provider module's committed sources.

    python3 embed.py SOURCE_DIR VERSION OUT_DIR

The schema gets its `version` field set (the engine reports it), and both files are compacted.
"""

import json
import sys
from pathlib import Path


def main(source: Path, version: str, out: Path) -> None:
    schema = json.loads((source / "schema.json").read_text())
    schema["version"] = version
    (out / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
    mapping = json.loads((source / "terraform-mapping.json").read_text())
    (out / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
