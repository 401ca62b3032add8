"""What every part of localcloud shares: settings, clocks, the scheduler, the trace, patches and HTTP."""
