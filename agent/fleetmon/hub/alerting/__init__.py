"""Alert routing, grouping, inhibition, silences, acknowledgement and notification."""
