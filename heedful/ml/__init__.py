"""heedful.ml: the text engine (pure Python, no Django). See heedful/ml/README.md."""
