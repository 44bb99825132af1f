# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Hypothesis profiles of the unit stage.

"suite" (the default) draws the same examples on every run, so the suite
never fails on a draw it has not failed on before; "explore" draws 20 times
as many, at random, to find new ones: HYPOTHESIS_PROFILE=explore scripts/test units
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from hypothesis import settings

settings.register_profile('suite', derandomize=True, deadline=None, database=None)
settings.register_profile('explore', max_examples=500, deadline=None, database=None)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'suite'))
