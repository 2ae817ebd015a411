"""The Kaggle side of the tools: staging, the notebooks' bootstrap cells, wheels, push and submit."""
