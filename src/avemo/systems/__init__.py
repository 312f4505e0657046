"""Systems: a feature recipe + a model (or linear baseline) + its fitted preprocessing, trained and saved as one."""
from avemo.systems.spec import SystemSpec, load_spec
from avemo.systems.speech import SpeechSystem

__all__ = ["SystemSpec", "SpeechSystem", "load_spec"]
