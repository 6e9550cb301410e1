namespace Cinnabar.Server.Config;

public enum EvictionPolicy { NoEviction, AllKeysLru, AllKeysLfu, AllKeysRandom, VolatileLru, VolatileLfu, VolatileRandom, VolatileTtl }

/// <summary>
/// The directives the hot path reads, as typed fields. The config table is the source of truth and
/// writes these whenever a directive is loaded or set, so a command never parses a setting.
/// </summary>
public sealed class ServerSettings
{
    public int Port = 6379;
    public string[] Bind = { "*", "-::*" };
    public int TcpBacklog = 511;
    public int TcpKeepalive = 300;
    public int Timeout;
    public int Databases = 16;
    public int Hz = 10;
    public int MaxClients = 10000;
    public long ProtoMaxBulkLen = 512L * 1024 * 1024;
    public long ClientQueryBufferLimit = 1024L * 1024 * 1024;
    public long MaxMemory;
    public EvictionPolicy MaxMemoryPolicy = EvictionPolicy.NoEviction;
    public int MaxMemorySamples = 5;
    public int MaxMemoryEvictionTenacity = 10;
    public int LfuLogFactor = 10;
    public int LfuDecayTime = 1;
    public string RequirePass = "";
    public string EnableDebugCommand = "no";
    public string EnableProtectedConfigs = "no";
    public string LogFile = "";
    public bool Daemonize;
    public string PidFile = "";
    public long SlowlogLogSlowerThan = 10000;
    public int SlowlogMaxLen = 128;
    public long LatencyMonitorThreshold;
    public bool ActiveExpireEnabled = true;
    public bool LazyfreeLazyUserDel;
    public bool LazyfreeLazyUserFlush;
    public bool LazyfreeLazyExpire, LazyfreeLazyEviction, LazyfreeLazyServerDel;
    // Append-only file (Persistence/Aof*.cs).
    public bool AppendOnly;
    public string AppendFilename = "appendonly.aof", AppendDirname = "appendonlydir";
    public AppendFsync AppendFsync = AppendFsync.EverySec;
    public bool NoAppendfsyncOnRewrite, AofUseRdbPreamble = true, AofLoadTruncated = true, AofTimestampEnabled;
    public bool AofRewriteIncrementalFsync = true, AofDisableAutoGc;
    public long AutoAofRewritePercentage = 100, AutoAofRewriteMinSize = 64L * 1024 * 1024;
    public bool StopWritesOnBgsaveError = true;
    public string Dir = Directory.GetCurrentDirectory();
    public long[] ClientOutputBufferNormal = { 0, 0, 0 };
    public long[] ClientOutputBufferReplica = { 256L << 20, 64L << 20, 60 };
    public long[] ClientOutputBufferPubsub = { 32L << 20, 8L << 20, 60 };
    public bool ProtectedMode = true;
    public long HashMaxListpackEntries = 512, HashMaxListpackValue = 64;
    public long SetMaxIntsetEntries = 512;
    public long ZsetMaxListpackEntries = 128, ZsetMaxListpackValue = 64;
    public long ListMaxListpackSize = -2, ListCompressDepth;
    public long StreamNodeMaxBytes = 4096, StreamNodeMaxEntries = 100;
    public long BusyReplyThresholdMs = 5000;
    public long HllSparseMaxBytes = 3000;
    // Cluster (Cluster/*.cs). The bus thread reads these too; each is one aligned word, written by CONFIG SET.
    public bool ClusterEnabled;
    public string ClusterConfigFile = "nodes.conf";
    public long ClusterNodeTimeout = 15000;
    public int ClusterPort, ClusterAnnouncePort, ClusterAnnounceBusPort;
    public string ClusterAnnounceIp = "", ClusterAnnounceHostname = "";
    public bool ClusterRequireFullCoverage = true, ClusterAllowReadsWhenDown, ClusterAllowPubsubshardWhenDown = true;
    public int ClusterReplicaValidityFactor = 10, ClusterMigrationBarrier = 1;
    public bool ClusterAllowReplicaMigration = true, ClusterReplicaNoFailover;
    public string ClusterPreferredEndpointType = "ip";
    public long ClusterLinkSendbufLimit;
}

public enum AppendFsync { No, Always, EverySec }
