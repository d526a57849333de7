"""Capacity planning: hospital resources with schedules, queues whose waits change outcomes, open-population
arrivals, Erlang-C verification and the capacity search (README "Capacity planning")."""
