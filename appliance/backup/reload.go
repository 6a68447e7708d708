package backup

import (
	"thecure/appliance/config"
)

// schedule returns the schedule in force: the last reload's, else New's.
func (s *Service) schedule() config.Schedule {
	if p := s.liveSchedule.Load(); p != nil {
		return *p
	}
	return s.opts.Config.Schedule
}

// LiveKeys are the [backup] keys Reload applies.
func (s *Service) LiveKeys() []string { return []string{"backup.schedule"} }

// Reload applies a new schedule: Run computes its next backup from it at
// once. A backup running now goes on.
func (s *Service) Reload(cfg *config.Config) error {
	sched := cfg.Backup.Schedule
	s.liveSchedule.Store(&sched)
	select {
	case s.rescheduled <- struct{}{}:
	default: // Run has one wake-up pending already
	}
	s.log.Info("backup: new schedule in force", "schedule", cfg.Backup.Schedule)
	return nil
}
