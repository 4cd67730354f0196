"""Allow `python -m sentiment_pipeline`."""

from sentiment_pipeline.cli import main

if __name__ == "__main__":
    main()
