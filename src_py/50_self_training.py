# %% [markdown]
# # 50 · Self-training on the unlabelled soundscapes (noisy student)
#
# - Thousands of unlabelled one-minute soundscapes from the test recorders: self-training on them
#   was the largest single lever of BirdCLEF 2025 and 2026. `pseudo_rounds: 0` skips this stage.
# - Each round, the teacher (the training notebook's models, then each round's students) scores
#   the pool through the inference path and writes soft labels per 5-s window; labelled soundscape
#   files never enter the pool.
# - Students train through the same loop, each labelled crop mixed (`pseudo_mix_prob`, weight
#   `pseudo_mix_weight`) with a pseudo-labelled chunk raised to `1/pseudo_temperature`, drawn in
#   proportion to the teacher's confidence. `pseudo_oof_folds` k > 1: k soundscape folds, each
#   labelled only by students that never saw it.
# - Everything a round made stays in `checkpoints/round<r>/`; a rerun resumes at the first
#   unfinished round; `checkpoints/ensemble.json` lists each round's models for the inference
#   notebook (`ensemble_rounds`: last or all).
# - Before the rounds, their cost is measured with the plan the rounds score with
#   (`teacher_plan`: the session's GPU, else the inference backend on CPUs); with
#   `session_budget_minutes` (a Kaggle session's limit) a round that would not end in time is
#   skipped with a message.
# - With `foundation_members` (BirdNET / Perch head, zero-shot; 25_embeddings) and
#   `pseudo_foundation` (default on), those members join the teacher that labels the soundscapes.

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
pseudo_rounds = 0            # rounds of self-training; 0 = skip this notebook's work
pseudo_mix_prob = 0.5        # share of labelled crops mixed with a pseudo-labelled chunk
pseudo_mix_weight = 0.5      # weight of the soundscape chunk in the mix
pseudo_temperature = 0.6     # soft labels are raised to 1 / T (T < 1 sharpens)
pseudo_oof_folds = 0         # > 1: out-of-fold pseudo-labels over this many soundscape folds
max_pseudo_files = 0         # 0 = every unlabelled soundscape
session_budget_minutes = 0.0  # a round that would end past this (minutes since start) is skipped; 0 = no limit
pseudo_foundation = True     # the foundation_members (BirdNET / Perch head, zero-shot) join the teacher

# %%
from birdkit.ensemble_list import ENSEMBLE_LIST, read_ensemble_list
from birdkit.notebook import plots, session
from birdkit.notebook.paths import find_file, foundation_specs
from birdkit.notebook.training import background_bank, soundscape_sets, training_inputs
from birdkit.train.selftrain import (
    RoundClock,
    estimate_first_round,
    first_unfinished_round,
    import_teacher,
    run_round,
)

cfg, comp = session.start(globals(), "self_training")
tables = session.load_tables(comp, cfg.run_dir)
inputs = training_inputs(cfg, tables, cfg.run_dir)
pool = inputs.unlabelled[: cfg.max_pseudo_files] if cfg.max_pseudo_files else inputs.unlabelled
if not (cfg.checkpoint_dir / ENSEMBLE_LIST).is_file():  # a kernel that attaches the training kernel's output
    found = find_file(cfg.kaggle_input, ENSEMBLE_LIST)
    if found:
        print(f"teacher imported from {found.parent} (last round {import_teacher(cfg, found)})")
start = first_unfinished_round(cfg)
foundation = foundation_specs(cfg, tables.layout, tables.classes) if cfg.pseudo_foundation else []
print(f"{len(pool)} unlabelled soundscapes in the pool (labelled files left out); rounds {start}..{cfg.pseudo_rounds} "
      f"to run; teacher: {[str(p) for p in read_ensemble_list(cfg.checkpoint_dir, 'last')]}"
      + "".join(f" + {s['model']} {s['kind']}" for s in foundation))

# %% [markdown]
# ## What a round will cost
# Measured here, as the round will run: the teacher's scoring rate (its plan: backend, device) and
# the supervised epochs' duration.

# %%
estimate = None
if start <= cfg.pseudo_rounds and pool:
    estimate = estimate_first_round(cfg, pool, foundation)
    print(f"{estimate['plan'].describe()}\nper round about {estimate['total_min']:.1f} min: pseudo-labelling "
          f"{estimate['pseudo_label_min']:.1f} min ({len(pool)} files, {estimate['audio_minutes']:.0f} audio minutes "
          f"at {estimate['rate']:.2f} s each), training {estimate['train_min']:.1f} min ({estimate['students']} "
          f"student(s) x {cfg.epochs} epochs x {estimate['epoch_seconds']:.0f} s)")

# %% [markdown]
# ## Rounds

# %%
rounds = []
clock = RoundClock(cfg.session_budget_minutes, estimate["total_min"] if estimate else 0.0)
for r in range(start, cfg.pseudo_rounds + 1):
    fits, why = clock.fits(r)
    print(why)
    if not fits:
        break
    soundscape_val, soundscape_train = soundscape_sets(cfg, inputs, cfg.train_folds[0])
    result = run_round(cfg, tables.classes, inputs.train, r, pool, foundation=foundation,
                       background=background_bank(cfg, inputs),
                       soundscape_val=soundscape_val, soundscape_train=soundscape_train)
    session.write_skips(cfg.run_dir, f"pseudo_round{r}", result.skipped)
    rounds.append(result)
    clock.finished(r)
    for s_fold, students in result.students.items():
        for student in students:
            last = student.history.iloc[-1]
            print(f"round {r}, student {s_fold}/{student.fold}: " + ", ".join(
                f"{k} {last[k]:.4f}" for k in ("val_auc", "val_soundscape_auc") if k in last))

# %% [markdown]
# ## Pseudo-labels: confidence and windows per class

# %%
for result in rounds:
    windows = result.pseudo.window_table(tables.classes)
    fig = plots.histogram(windows["confidence"], f"round {result.round}: top probability per window",
                          "teacher confidence")
    plots.save(fig, cfg.run_dir, f"pseudo_confidence_round{result.round}")
    above = result.pseudo.windows_above(tables.classes, 0.5)
    fig = plots.bar_counts(above.head(30), f"round {result.round}: windows above 0.5 per class")
    plots.save(fig, cfg.run_dir, f"pseudo_classes_round{result.round}")
    print(f"round {result.round}: {len(windows)} windows, median confidence {windows.confidence.median():.3f}, "
          f"{int((above > 0).sum())} classes with a window above 0.5")
