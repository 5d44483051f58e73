"""The fleetmon hub: subscribes to the fleet, keeps state and history, runs fleet rules (Python 3.10+)."""
