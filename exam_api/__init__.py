"""exam_api."""
