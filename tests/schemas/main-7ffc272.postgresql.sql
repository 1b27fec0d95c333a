-- What `metadata.create_all` of control/models.py at commit 7ffc272 ran on postgresql: the schema of every
-- control database made before migrations existed (tests/test_schema.py builds one from it).

CREATE TABLE accounts (
	id VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	event_store VARCHAR(1000),
	profile_store VARCHAR(1000),
	database_id VARCHAR(64) NOT NULL,
	data_region VARCHAR(2),
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE ended_sessions (
	session_id VARCHAR(64) NOT NULL,
	expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (session_id)
);

CREATE TABLE users (
	id SERIAL NOT NULL,
	account_id VARCHAR(40) NOT NULL,
	email VARCHAR(254) NOT NULL,
	password_hash TEXT,
	role VARCHAR(10) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(account_id) REFERENCES accounts (id),
	UNIQUE (email)
);

CREATE TABLE destinations (
	account_id VARCHAR(40) NOT NULL,
	name VARCHAR(100) NOT NULL,
	bucket VARCHAR(63) NOT NULL,
	prefix VARCHAR(500) NOT NULL,
	data_region VARCHAR(2) NOT NULL,
	region VARCHAR(30),
	endpoint_url VARCHAR(500),
	path_style BOOLEAN NOT NULL,
	sse VARCHAR(10) NOT NULL,
	sse_kms_key_id VARCHAR(300),
	access_key_id_sealed TEXT NOT NULL,
	secret_sealed TEXT NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (account_id, name),
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);

CREATE TABLE api_tokens (
	id SERIAL NOT NULL,
	user_id INTEGER NOT NULL,
	token_hash VARCHAR(64) NOT NULL,
	label VARCHAR(100) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES users (id),
	UNIQUE (token_hash)
);

CREATE TABLE export_requests (
	id VARCHAR(32) NOT NULL,
	account_id VARCHAR(40) NOT NULL,
	destination VARCHAR(100) NOT NULL,
	export_type VARCHAR(20) NOT NULL,
	events JSON NOT NULL,
	format VARCHAR(10) NOT NULL,
	frequency VARCHAR(10) NOT NULL,
	window_from TIMESTAMP WITHOUT TIME ZONE,
	window_to TIMESTAMP WITHOUT TIME ZONE,
	every_hours INTEGER,
	status VARCHAR(10) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(account_id, destination) REFERENCES destinations (account_id, name),
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);

CREATE INDEX export_requests_by_account_time ON export_requests (account_id, created_at, id);

CREATE INDEX ix_export_requests_account_id ON export_requests (account_id);

CREATE TABLE runs (
	id SERIAL NOT NULL,
	request_id VARCHAR(32) NOT NULL,
	account_id VARCHAR(40) NOT NULL,
	window_start TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	window_end TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	time_basis VARCHAR(10) NOT NULL,
	run_timestamp VARCHAR(14) NOT NULL,
	captured_before BIGINT,
	status VARCHAR(10) NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt_at TIMESTAMP WITHOUT TIME ZONE,
	claimed_by VARCHAR(100),
	lease_until TIMESTAMP WITHOUT TIME ZONE,
	started_at TIMESTAMP WITHOUT TIME ZONE,
	finished_at TIMESTAMP WITHOUT TIME ZONE,
	objects INTEGER,
	rows INTEGER,
	bytes INTEGER,
	rejected INTEGER,
	error TEXT,
	last_progress TEXT,
	PRIMARY KEY (id),
	CONSTRAINT one_run_per_window UNIQUE (request_id, window_start),
	FOREIGN KEY(request_id) REFERENCES export_requests (id),
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);

CREATE INDEX ix_runs_account_id ON runs (account_id);

CREATE INDEX runs_by_account_status ON runs (account_id, status);
