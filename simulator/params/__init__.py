"""Parameters with provenance: schema, distributions and the parameter set the model reads."""
