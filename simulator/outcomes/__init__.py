"""Pure functions of the patient table and event log: survival, symptoms, summaries."""

# The procedures counted per patient (patients.csv's n_<kind> columns, metrics procedures_<kind>),
# which the economics also values one by one.
PROCEDURE_KINDS = ("hepatectomy", "transplant", "ablation", "tae", "tace", "y90", "prrt")
