"""Capacity planning: hospital resources with schedules, queues whose waits change outcomes, open-population
arrivals and Erlang-C verification (README "Capacity planning"); the capacity search that re-runs a
scenario is experiments/capacity_search.py."""
