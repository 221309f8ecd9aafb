"""Engine of reviewed migrations (no Django): see the full API description below."""
