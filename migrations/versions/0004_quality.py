"""quality tables: snapshot samples, reference views, findings, pass records, plate audits, sampling plans (Q1–Q3)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table('quality_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('first_seen_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('evidence_path', sa.String(length=500), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('cleared_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_quality_findings_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_findings'))
    )
    op.create_index(op.f('ix_quality_findings_device_id'), 'quality_findings', ['device_id'], unique=False)
    op.create_index('ix_quality_findings_device_kind', 'quality_findings', ['device_id', 'kind', 'state'], unique=False)
    op.create_index(op.f('ix_quality_findings_state'), 'quality_findings', ['state'], unique=False)

    op.create_table('quality_pass_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('captured_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('reported_plate', sa.String(length=20), nullable=False),
    sa.Column('image_path', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('received_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_quality_pass_records_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_pass_records')),
    sa.UniqueConstraint('device_id', 'external_id', name=op.f('uq_quality_pass_records_device_id'))
    )
    op.create_index('ix_quality_pass_records_device_captured', 'quality_pass_records', ['device_id', 'captured_at'], unique=False)
    op.create_index(op.f('ix_quality_pass_records_device_id'), 'quality_pass_records', ['device_id'], unique=False)

    op.create_table('quality_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('image_path', sa.String(length=500), nullable=False),
    sa.Column('set_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('set_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_quality_references_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_references')),
    sa.UniqueConstraint('device_id', name=op.f('uq_quality_references_device_id'))
    )
    op.create_table('quality_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=True),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('image_path', sa.String(length=500), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_quality_samples_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_samples'))
    )
    op.create_index(op.f('ix_quality_samples_device_id'), 'quality_samples', ['device_id'], unique=False)
    op.create_index('ix_quality_samples_device_taken', 'quality_samples', ['device_id', 'taken_at'], unique=False)

    op.create_table('quality_sampling_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('target_samples', sa.Integer(), nullable=False),
    sa.Column('selected', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_quality_sampling_plans_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_sampling_plans')),
    sa.UniqueConstraint('device_id', 'month', 'period', name=op.f('uq_quality_sampling_plans_device_id'))
    )
    op.create_table('quality_audit_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pass_record_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('auto_text', sa.String(length=20), nullable=False),
    sa.Column('auto_result', sa.String(length=12), nullable=False),
    sa.Column('plate_bbox', sa.JSON(), nullable=True),
    sa.Column('queued', sa.Boolean(), nullable=False),
    sa.Column('queue_reason', sa.String(length=20), nullable=False),
    sa.Column('human_verdict', sa.String(length=10), nullable=True),
    sa.Column('corrected_text', sa.String(length=20), nullable=False),
    sa.Column('reviewed_by', sa.String(length=100), nullable=False),
    sa.Column('reviewed_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_quality_audit_samples_device_id_devices')),
    sa.ForeignKeyConstraint(['pass_record_id'], ['quality_pass_records.id'], name=op.f('fk_quality_audit_samples_pass_record_id_quality_pass_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_audit_samples')),
    sa.UniqueConstraint('pass_record_id', name=op.f('uq_quality_audit_samples_pass_record_id'))
    )
    op.create_index('ix_quality_audit_month', 'quality_audit_samples', ['device_id', 'month', 'period'], unique=False)
    op.create_index('ix_quality_audit_queue', 'quality_audit_samples', ['queued', 'outcome'], unique=False)
    op.create_index(op.f('ix_quality_audit_samples_device_id'), 'quality_audit_samples', ['device_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_quality_audit_samples_device_id'), table_name='quality_audit_samples')
    op.drop_index('ix_quality_audit_queue', table_name='quality_audit_samples')
    op.drop_index('ix_quality_audit_month', table_name='quality_audit_samples')

    op.drop_table('quality_audit_samples')
    op.drop_table('quality_sampling_plans')
    op.drop_index('ix_quality_samples_device_taken', table_name='quality_samples')
    op.drop_index(op.f('ix_quality_samples_device_id'), table_name='quality_samples')

    op.drop_table('quality_samples')
    op.drop_table('quality_references')
    op.drop_index(op.f('ix_quality_pass_records_device_id'), table_name='quality_pass_records')
    op.drop_index('ix_quality_pass_records_device_captured', table_name='quality_pass_records')

    op.drop_table('quality_pass_records')
    op.drop_index(op.f('ix_quality_findings_state'), table_name='quality_findings')
    op.drop_index('ix_quality_findings_device_kind', table_name='quality_findings')
    op.drop_index(op.f('ix_quality_findings_device_id'), table_name='quality_findings')

    op.drop_table('quality_findings')
