"""`make bench`: the book's own benchmarks, then every kernel benchmark script in bench/."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    scripts = [HERE / "bench_book.py"] + sorted(p for p in HERE.glob("bench_*.py")
                                                if p.name != "bench_book.py")
    failed = []
    for script in scripts:
        print(f"\n######## {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.name)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
