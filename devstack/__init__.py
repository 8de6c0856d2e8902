"""The local AWS stand-in and its tooling (moto servers, the `make run` launcher, the benchmark); never imported by production code."""
