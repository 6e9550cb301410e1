namespace Cinnabar.Server.Commands;

/// <summary>Every command family, registered against the Redis 7.0 command table.</summary>
public static class CommandRegistry
{
    public static void RegisterAll(CommandTable t)
    {
        StringCommands.Register(t);
        BitmapCommands.Register(t);
        KeyCommands.Register(t);
        HashCommands.Register(t);
        SetCommands.Register(t);
        ListCommands.Register(t);
        ConnectionCommands.Register(t);
        ServerCommands.Register(t);
        ConfigCommands.Register(t);
        DebugCommands.Register(t);
        TransactionCommands.Register(t);
        PubSubCommands.Register(t);
        HyperLogLogCommands.Register(t);
        ScriptingCommands.Register(t);
        FunctionCommands.Register(t);
        StreamCommands.Register(t);
        SortedSetCommands.Register(t);
        GeoCommands.Register(t);
        SortCommands.Register(t);
        PersistenceCommands.Register(t);
        MigrateCommand.Register(t);
        ClusterKeyCommands.Register(t);
        Cluster.ClusterCommand.Register(t);
        Replication.ReplicaCommands.Register(t);
        Replication.ReplicationCommands.Register(t);
    }
}
