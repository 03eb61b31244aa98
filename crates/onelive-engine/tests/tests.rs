mod machine_smoke {}
