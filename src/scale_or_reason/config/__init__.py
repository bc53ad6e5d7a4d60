"""Configuration: where things are (`paths`), what a study asks for (`params`), the names of its
families, benchmarks and recipes (`families`, `recipes`). Imports nothing else of the package."""
