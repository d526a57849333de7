"""Pure functions of the patient table and event log: survival, symptoms, summaries."""
