"""Publishing: versioned DatasetDicts on disk (`versions`) and their upload to the Hub (`push_to_hub`)."""
