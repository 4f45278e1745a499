"""``python -m knowledge.build_index``: build or refresh the on-disk index, report the work done.

Prints how many articles were embedded vs reused; invalid articles are listed (exit code 1 if
any, so CI notices) but never stop the valid ones from being indexed.
"""

from __future__ import annotations

import logging
import sys

from knowledge.search import KnowledgeBase
from knowledge.settings import Settings


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    kb = KnowledgeBase.from_env()
    report = kb.build_report
    print(
        f"index {settings.index_dir / kb.model.identity}: {report}; "
        f"{len(kb.articles())} articles loaded, {len(kb.load_errors)} invalid"
    )
    for error in kb.load_errors:
        print(f"invalid: {error}", file=sys.stderr)
    return 1 if kb.load_errors else 0


if __name__ == "__main__":
    sys.exit(main())
