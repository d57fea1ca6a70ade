"""rfbjax: how stable is a waveform convnet's first layer when its filters are random?

Data flow (one module per idea)::

    filters  -> autocorr (rho, R_x) -> energy (<rho, R_x>)   -> montecarlo -> theory / sweeps / attacks
                                    -> frames (P, A, B, kappa)

Core modules are pure array functions (explicit PRNG keys; jit/vmap/grad compose over them);
the Monte Carlo driver owns chunking, devices and progress; the CLI is a thin layer on top.
"""

__version__ = "0.1.0"

from .autocorr import filterbank_autocorr, signal_autocorr, lag_profile, fft_size  # noqa: F401
from .energy import energy_response, energy_by_convolution, energy_moments  # noqa: F401
from .filters import gaussian_filterbank, gaussian_sigma  # noqa: F401
from .frames import (  # noqa: F401
    power_response,
    power_response_from_filters,
    circular_power_response,
    frame_bounds,
    condition_number,
    circular_frame_bounds,
    linear_frame_bounds,
)
from .errors import InputError  # noqa: F401
