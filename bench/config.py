"""How big each benchmark is: the full run (under 10 minutes on 2 cores) and `--quick`."""

from __future__ import annotations

import attrs


@attrs.frozen
class Config:
    """Counts and repeats for every section; `quick()` shrinks them to keep the harness tested."""

    quick: bool = False
    import_repeats: int = 21  # medians of >= 20 runs: the 1.15x import target is a close call
    status_calls: int = 2000
    status_repeats: int = 3
    bulk_jobs: int = 10_000
    bulk_concurrency: int = 64
    bulk_repeats: int = 3
    wait_jobs: int = 500
    wait_min_seconds: float = 0.1
    wait_max_seconds: float = 5.0
    wait_repeats: int = 3
    wait_seed: int = 20260408
    echo_jobs: int = 2000
    echo_workers: tuple[int, ...] = (1, 2, 4)
    echo_repeats: int = 3
    depth_jobs: int = 100_000
    depth_fill_deadline: float = 240.0
    depth_status_calls: int = 1000
    depth_repeats: int = 3
    fault_submits: int = 2000
    fault_rate: float = 0.10
    fault_repeats: int = 3
    profile_calls: int = 2000
    always_profile: bool = False
    scale_sizes: tuple[int, ...] = (2_000, 20_000, 200_000)
    scale_concurrency: int = 32
    scale_repeats: int = 5
    scale_largest_repeats: int = 3
    ratelimit_submits: int = 1000
    ratelimit_rate: float = 0.05
    ratelimit_retry_after: int = 1
    ratelimit_repeats: int = 3
    dashboard_jobs: int = 1000
    dashboard_phases: int = 8
    dashboard_repeats: int = 2

    @classmethod
    def quick_config(cls) -> Config:
        """Tiny counts: proves every section runs end to end in well under a minute."""
        return cls(
            quick=True,
            import_repeats=2,
            status_calls=50,
            status_repeats=2,
            bulk_jobs=100,
            bulk_concurrency=8,
            bulk_repeats=1,
            wait_jobs=8,
            wait_min_seconds=0.1,
            wait_max_seconds=1.0,
            wait_repeats=1,
            echo_jobs=40,
            echo_workers=(1, 2),
            echo_repeats=1,
            depth_jobs=300,
            depth_fill_deadline=30.0,
            depth_status_calls=50,
            depth_repeats=1,
            fault_submits=100,
            fault_repeats=1,
            profile_calls=50,
            always_profile=True,
            scale_sizes=(100, 400),
            scale_concurrency=8,
            scale_repeats=1,
            scale_largest_repeats=1,
            ratelimit_submits=100,
            ratelimit_repeats=1,
            dashboard_jobs=100,
            dashboard_phases=1,
            dashboard_repeats=1,
        )
