"""The README's main job: one simulated pick-and-place episode through the ROS 2 nodes."""

import sys


def main(argv=None) -> int:
    print(
        "vjepa-ac demo: not implemented yet (the regression/demo issue has not landed). "
        "Set-up completed; run `make test` for the test suite.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
