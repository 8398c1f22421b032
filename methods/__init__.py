"""The methods of the papers parbench benchmarks, one package each."""
